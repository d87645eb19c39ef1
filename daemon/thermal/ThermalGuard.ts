/**
 * Watches the board's temperature (and the Raspberry Pi firmware's throttling flags) and keeps the
 * daemon cool: above `thermal.limitCelsius` batch-priority work waits (interactive requests are still
 * served), and it resumes once the board is 5 °C below the limit. Readings feed /metrics, the
 * systemd STATUS line and the MQTT status.
 */
import { probeThermal, type ThermalReport } from "../../hal/probes/probeThermal.js";

export interface ThermalGuardOptions {
  /** Root of /sys (fixture trees in tests). */
  root: string;
  limitCelsius: number;
  pollMs: number;
  /** Called when batch work must pause (true) or may resume (false). */
  setBatchPaused(paused: boolean): void;
  onReading(report: ThermalReport, hot: boolean): void;
  log: { warn(object: object, message: string): void; info(object: object, message: string): void };
}

const hysteresisCelsius = 5;

export class ThermalGuard {
  private timer: NodeJS.Timeout | undefined;
  private hot = false;
  private last: ThermalReport | undefined;

  constructor(private readonly options: ThermalGuardOptions) {}

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.options.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get reading(): { celsius: number | null; hot: boolean; throttled: boolean } {
    const throttling = this.last?.raspberryPiThrottling;
    const throttled = throttling ? Object.values(throttling.now).some(Boolean) : false;
    return { celsius: this.last?.cpuCelsius ?? null, hot: this.hot, throttled };
  }

  private async check(): Promise<void> {
    const report = await probeThermal(this.options.root);
    this.last = report;
    const celsius = report.cpuCelsius;
    const { limitCelsius, log } = this.options;
    if (celsius !== null && !this.hot && celsius >= limitCelsius) {
      this.hot = true;
      log.warn({ component: "thermal", celsius, limitCelsius }, "board too hot: pausing batch-priority work");
      this.options.setBatchPaused(true);
    } else if (this.hot && (celsius === null || celsius <= limitCelsius - hysteresisCelsius)) {
      this.hot = false;
      log.info({ component: "thermal", celsius, limitCelsius }, "board cooled down: batch-priority work resumes");
      this.options.setBatchPaused(false);
    }
    this.options.onReading(report, this.hot);
  }
}
