/** sysexits' EX_CONFIG: the unit's RestartPreventExitStatus keeps systemd from retrying a bad config. */
export const EXIT_CONFIG = 78;

/**
 * The client commands' (`run`, `ask`) exit codes, documented in their --help and docs/client.md; sysexits'
 * numbers where one fits, so scripts can tell "try again later" from "fix something".
 */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** EX_UNAVAILABLE: the daemon could not be reached, or the connection was lost. */
export const EXIT_UNAVAILABLE = 69;
/** EX_TEMPFAIL: the daemon is busy, loading or stopping: the same command may work later. */
export const EXIT_TEMPFAIL = 75;
/** EX_NOPERM: a wrong or missing token, or a refused Origin/Host. */
export const EXIT_NOPERM = 77;
/** 128 + SIGINT: Ctrl-C cancelled the answer. */
export const EXIT_INTERRUPTED = 130;
