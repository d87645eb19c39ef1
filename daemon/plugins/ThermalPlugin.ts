/** The thermal guard, once a model serves: pauses batch work when the board is hot; readings feed the status and metrics. */
import { ThermalGuard } from "../thermal/ThermalGuard.js";
import type { DaemonContext, DaemonPlugin } from "./DaemonPlugin.js";

export class ThermalPlugin implements DaemonPlugin {
  readonly name = "thermal";
  readonly phase = "after-model";
  private guard: ThermalGuard | undefined;

  async start(context: DaemonContext): Promise<void> {
    const { hal, thermal } = context.config();
    const guard = new ThermalGuard({
      root: hal.root,
      limitCelsius: thermal.limitCelsius,
      pollMs: thermal.pollMs,
      setBatchPaused: (paused) => context.scheduler.setBatchPaused(paused),
      onReading: (report) => {
        context.metrics.temperatures(
          report.zones.filter((z) => z.celsius !== null).map((z) => ({ zone: z.type, celsius: z.celsius as number })),
        );
        context.status.figuresMoved();
      },
      log: context.logFor("thermal"),
    });
    this.guard = guard;
    context.status.readFrom({ thermal: () => guard.reading });
    await guard.start();
  }

  async stop(): Promise<void> {
    this.guard?.stop();
  }
}
