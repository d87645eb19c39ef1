/** sysexits' EX_CONFIG: the unit's RestartPreventExitStatus keeps systemd from retrying a bad config. */
export const EXIT_CONFIG = 78;
