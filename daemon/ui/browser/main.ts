/** The web page's entry: the status stream feeds the status list and the charts; the playground chats. */
import { type ChartPoint, drawLineChart } from "./lineChart.js";
import { Playground } from "./playground.js";
import { type NodeHealth, showStatus } from "./statusPanel.js";
import { followStatusStream } from "./statusStream.js";

interface StatusSample {
  t: number;
  tokens_per_s: number | null;
  queued: number;
  running: number;
  temperature_celsius: number | null;
}

const samples: StatusSample[] = [];

function drawCharts(): void {
  const chart = (id: string, unit: string, value: (sample: StatusSample) => number | null) =>
    drawLineChart(
      document.getElementById(id) as unknown as SVGSVGElement,
      document.getElementById(`${id}-range`) as HTMLElement,
      samples.map((sample): ChartPoint => ({ t: sample.t, value: value(sample) })),
      unit,
    );
  chart("chart-tokens", " tok/s", (sample) => sample.tokens_per_s);
  chart("chart-queue", "", (sample) => sample.queued);
  chart("chart-temperature", " °C", (sample) => sample.temperature_celsius);
}

function onEvent(name: string, data: unknown): void {
  if (name === "status") showStatus(data as NodeHealth);
  else if (name === "history") {
    samples.splice(0, samples.length, ...(data as StatusSample[]));
    drawCharts();
  } else if (name === "sample") {
    samples.push(data as StatusSample);
    while (samples.length > 0 && (samples[0]?.t ?? 0) < Date.now() - 15 * 60 * 1000) samples.shift();
    drawCharts();
  }
}

function onConnection(text: string, connected: boolean): void {
  const line = document.getElementById("connection");
  if (!line) return;
  line.textContent = text;
  line.dataset.connected = String(connected);
}

new Playground().start();
void followStatusStream({ event: onEvent, connection: onConnection });
