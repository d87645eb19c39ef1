/**
 * Tells systemd the truth about the service: READY=1 only once the model is loaded and every
 * transport listens; STATUS= lines a person can read; WATCHDOG=1 at half of WATCHDOG_USEC, only while
 * a liveness check passes (a hung backend stops the pings, so systemd restarts the service);
 * RELOADING=1 on SIGHUP; STOPPING=1 on shutdown; EXTEND_TIMEOUT_USEC while a model loads.
 */
import { monotonicMicroseconds, type NotifyChannel, openNotifyChannel, watchdogIntervalMs } from "./systemdNotify.js";

export interface ServiceNotifierOptions {
  channel?: NotifyChannel;
  environment?: NodeJS.ProcessEnv;
  /** Whether the service is alive right now; a failing check withholds the watchdog ping. */
  isAlive(): { alive: boolean; reason?: string };
  log: { warn(object: object, message: string): void; debug(object: object, message: string): void };
}

export class ServiceNotifier {
  private readonly channel: NotifyChannel;
  private readonly watchdogMs: number | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private lastStatus = "";
  private withheld = false;

  constructor(private readonly options: ServiceNotifierOptions) {
    const environment = options.environment ?? process.env;
    this.channel =
      options.channel ??
      openNotifyChannel(environment, (message) => options.log.warn({ component: "systemd" }, message));
    this.watchdogMs = this.channel.enabled ? watchdogIntervalMs(environment) : undefined;
  }

  get enabled(): boolean {
    return this.channel.enabled;
  }

  /** Starts the watchdog pings (if systemd asked for them). */
  start(): void {
    if (this.watchdogMs === undefined) return;
    const period = Math.max(50, Math.floor(this.watchdogMs / 2));
    this.watchdogTimer = setInterval(() => this.pingWatchdog(), period);
  }

  stop(): void {
    clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  status(text: string): void {
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.channel.send(`STATUS=${text}`);
  }

  /** While loading: a progress line, and more start-up time so a slow board is not killed. */
  loading(text: string, extendMs: number): void {
    this.lastStatus = text;
    this.channel.send(`STATUS=${text}\nEXTEND_TIMEOUT_USEC=${Math.round(extendMs * 1000)}`);
  }

  ready(text: string): void {
    this.lastStatus = text;
    this.channel.send(`READY=1\nSTATUS=${text}`);
  }

  reloading(): void {
    this.channel.send(`RELOADING=1\nMONOTONIC_USEC=${monotonicMicroseconds()}\nSTATUS=reloading configuration`);
  }

  stopping(text = "stopping: finishing in-flight requests"): void {
    this.lastStatus = text;
    this.channel.send(`STOPPING=1\nSTATUS=${text}`);
  }

  private pingWatchdog(): void {
    const check = this.options.isAlive();
    if (check.alive) {
      if (this.withheld) this.options.log.warn({ component: "systemd" }, "service alive again; watchdog pings resume");
      this.withheld = false;
      this.channel.send("WATCHDOG=1");
      return;
    }
    if (!this.withheld)
      this.options.log.warn(
        { component: "systemd", reason: check.reason },
        "liveness check failed; withholding the watchdog ping",
      );
    this.withheld = true;
  }
}
