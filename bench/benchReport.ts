/** The benchmark's report: JSON, an SVG bar chart, and a table of ratios against llama-server. */
import { writeFileSync } from "node:fs";

export interface DecodeRow {
  name: string;
  decodeTokensPerSecond: number;
  decodeMin: number;
  decodeMax: number;
  ttftMs: number;
}

export function renderSvgChart(rows: DecodeRow[], boundTokensPerSecond: number, title: string): string {
  const width = 760;
  const barHeight = 26;
  const left = 260;
  const top = 40;
  const max = Math.max(boundTokensPerSecond, ...rows.map((r) => r.decodeMax)) * 1.1;
  const scale = (value: number) => ((width - left - 40) * value) / max;
  const height = top + rows.length * (barHeight + 10) + 50;
  const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const bars = rows
    .map((row, i) => {
      const y = top + i * (barHeight + 10);
      return [
        `<text x="${left - 8}" y="${y + 18}" text-anchor="end" font-size="13">${escapeXml(row.name)}</text>`,
        `<rect x="${left}" y="${y}" width="${scale(row.decodeTokensPerSecond).toFixed(1)}" height="${barHeight}" fill="#4a7bd0"/>`,
        `<line x1="${left + scale(row.decodeMin)}" x2="${left + scale(row.decodeMax)}" y1="${y + barHeight / 2}" y2="${y + barHeight / 2}" stroke="#222"/>`,
        `<text x="${left + scale(row.decodeTokensPerSecond) + 6}" y="${y + 18}" font-size="12">${row.decodeTokensPerSecond.toFixed(1)} tok/s</text>`,
      ].join("");
    })
    .join("\n");
  const boundX = left + scale(boundTokensPerSecond);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>
${bars}
<line x1="${boundX}" x2="${boundX}" y1="${top - 6}" y2="${height - 40}" stroke="#c33" stroke-dasharray="4 3"/>
<text x="${boundX}" y="${height - 24}" text-anchor="middle" font-size="12" fill="#c33">memory-bandwidth bound ${boundTokensPerSecond.toFixed(1)} tok/s</text>
</svg>
`;
}

export function writeReport(path: string, report: unknown): void {
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
