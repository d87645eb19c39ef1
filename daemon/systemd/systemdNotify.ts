/**
 * The whole boundary to systemd's notify protocol, in one file: `sd_notify(3)` from libsystemd,
 * called through koffi (prebuilt FFI: no compiler needed on the board). When NOTIFY_SOCKET is unset
 * (not started by systemd) nothing is loaded and nothing is sent.
 */
import koffi from "koffi";

export interface NotifyChannel {
  /** Sends one notification (newline-separated VAR=value lines). */
  send(state: string): void;
  readonly enabled: boolean;
}

type SdNotify = (unsetEnvironment: number, state: string) => number;

const libraryNames = ["libsystemd.so.0", "libsystemd.so"];

function loadSdNotify(): SdNotify {
  let lastError: unknown;
  for (const name of libraryNames) {
    try {
      const library = koffi.load(name);
      return library.func("int sd_notify(int unset_environment, const char *state)") as SdNotify;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`cannot load libsystemd for sd_notify: ${(lastError as Error)?.message ?? "not found"}`);
}

/** A notify channel for this process: real when NOTIFY_SOCKET is set, silent otherwise. */
export function openNotifyChannel(
  environment: NodeJS.ProcessEnv = process.env,
  onError: (message: string) => void = () => undefined,
): NotifyChannel {
  if (!environment.NOTIFY_SOCKET) return { enabled: false, send: () => undefined };
  let sdNotify: SdNotify;
  try {
    sdNotify = loadSdNotify();
  } catch (error) {
    onError((error as Error).message);
    return { enabled: false, send: () => undefined };
  }
  return {
    enabled: true,
    send: (state) => {
      const result = sdNotify(0, state);
      if (result < 0) onError(`sd_notify failed (${result}) for ${state.split("\n")[0]}`);
    },
  };
}

/** The watchdog interval systemd asked for (WATCHDOG_USEC, for this pid), in ms; undefined when off. */
export function watchdogIntervalMs(
  environment: NodeJS.ProcessEnv = process.env,
  pid = process.pid,
): number | undefined {
  const usec = Number(environment.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const forPid = environment.WATCHDOG_PID;
  if (forPid !== undefined && forPid !== "" && Number(forPid) !== pid) return undefined;
  return usec / 1000;
}

/** CLOCK_MONOTONIC in microseconds (Node's hrtime is CLOCK_MONOTONIC on Linux), for RELOADING=1. */
export function monotonicMicroseconds(): bigint {
  return process.hrtime.bigint() / 1000n;
}
