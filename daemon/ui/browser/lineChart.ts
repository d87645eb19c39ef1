/** A line over the last 15 minutes in an SVG (no library: a polyline scaled to the samples' range). */

export interface ChartPoint {
  t: number;
  value: number | null;
}

const spanMs = 15 * 60 * 1000;
const svgNamespace = "http://www.w3.org/2000/svg";

export function drawLineChart(
  svg: SVGSVGElement,
  caption: HTMLElement,
  points: readonly ChartPoint[],
  unit: string,
): void {
  const now = Date.now();
  const shown = points.filter(
    (point): point is { t: number; value: number } => point.value !== null && point.t >= now - spanMs,
  );
  const values = shown.map((point) => point.value);
  const low = Math.min(0, ...values);
  const high = Math.max(1, ...values);
  const x = (t: number) => ((t - (now - spanMs)) / spanMs) * 300;
  const y = (value: number) => 96 - ((value - low) / (high - low)) * 92;
  const line = document.createElementNS(svgNamespace, "polyline");
  line.setAttribute("points", shown.map((point) => `${x(point.t).toFixed(1)},${y(point.value).toFixed(1)}`).join(" "));
  const last = shown[shown.length - 1];
  if (last) {
    // The latest value as a dot: a single sample (or the last minute of a 15-minute axis) stays visible.
    const dot = document.createElementNS(svgNamespace, "circle");
    dot.setAttribute("cx", x(last.t).toFixed(1));
    dot.setAttribute("cy", y(last.value).toFixed(1));
    dot.setAttribute("r", "3");
    svg.replaceChildren(line, dot);
  } else svg.replaceChildren(line);
  caption.textContent =
    shown.length === 0
      ? "no data yet"
      : `now ${values[values.length - 1]}${unit} · max ${Math.max(...values)}${unit} · ${shown.length} sample${shown.length === 1 ? "" : "s"}`;
}
