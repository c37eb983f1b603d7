/**
 * A self-contained SVG line chart (no dependency, no script, no external font): cost per document against pages, one
 * line per option. Pure: returns the SVG text; run.ts writes it.
 */

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  label: string;
  points: ChartPoint[];
  /** Drawn thicker, first in the legend: llambda. */
  emphasis?: boolean;
  dashed?: boolean;
  /** Left out of the y axis's range (a reference line that may lie far above the others; it is clipped). */
  outsideScale?: boolean;
}

export interface LineChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** A vertical marker, e.g. the document size asked about. */
  marker?: { x: number; label: string };
  formatY?: (value: number) => string;
}

const height = 560;
const plot = { left: 90, right: 660, top: 70, bottom: 490 };
const fontSize = 12;
/** Legend labels wrap at this width; the SVG is as wide as its widest line. */
const legendMaxTextWidth = 340;
const legendLineHeight = 15;
const legendGap = 7;
const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8"];
const emphasisColor = "#d62728";

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

/** Tick step of 1, 2 or 5 × 10^k giving about `count` ticks over `span`. */
export function niceStep(span: number, count = 6): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw)!;
  return step;
}

function ticks(max: number, count: number): number[] {
  const step = niceStep(max, count);
  const top = Math.ceil(max / step - 1e-9) * step;
  const values: number[] = [];
  for (let value = 0; value <= top + step / 2; value += step) values.push(Number(value.toPrecision(12)));
  return values;
}

const defaultFormatY = (value: number) => {
  if (value === 0) return "0";
  const digits = Math.max(0, Math.min(8, -Math.floor(Math.log10(Math.abs(value))) + 1));
  return value.toFixed(digits);
};

const fmt = (value: number) => Number(value.toFixed(2)).toString();

/**
 * Text width in px, over-estimated on purpose: no font engine runs here, and the viewer picks the font (Helvetica,
 * Arial, or a fallback such as DejaVu Sans, which is wider). Per-character advances are DejaVu Sans's, rounded up,
 * and bold adds 12 %, so the label fits in any of them.
 */
export function estimateTextWidth(text: string, size = fontSize, bold = false): number {
  let em = 0;
  for (const char of text) {
    if (char === " ") em += 0.32;
    else if ("il.,:;'|!".includes(char)) em += 0.3;
    else if ("fjrt()[]-".includes(char)) em += 0.42;
    else if ("mwMW@%".includes(char)) em += 1.0;
    else if (/[A-Z]/.test(char)) em += 0.77;
    else if (/[0-9]/.test(char)) em += 0.64;
    else em += 0.64;
  }
  return em * size * (bold ? 1.12 : 1);
}

/** Words of `text` in lines no wider than `maxWidth` (a longer word keeps a line of its own). */
export function wrapText(text: string, maxWidth: number, bold = false): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const candidate = line === "" ? word : `${line} ${word}`;
    if (line !== "" && estimateTextWidth(candidate, fontSize, bold) > maxWidth) {
      lines.push(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

export function lineChartSvg(chart: LineChart): string {
  const points = chart.series.flatMap((series) => series.points).filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y));
  if (points.length === 0) throw new Error("lineChartSvg: no points to draw");
  const xTicks = ticks(Math.max(...points.map((point) => point.x), chart.marker?.x ?? 0), 8);
  const scaled = chart.series.filter((series) => !series.outsideScale).flatMap((series) => series.points);
  const yTicks = ticks(Math.max(...(scaled.length > 0 ? scaled : points).map((point) => point.y).filter(Number.isFinite)), 6);
  const xMax = xTicks.at(-1)!;
  const yMax = yTicks.at(-1)!;
  const sx = (x: number) => plot.left + (x / xMax) * (plot.right - plot.left);
  const sy = (y: number) => plot.bottom - (y / yMax) * (plot.bottom - plot.top);
  const formatY = chart.formatY ?? defaultFormatY;

  // A reference line wholly above the y range is not drawn (it would be clipped away): the legend says so instead.
  const offChart = (series: ChartSeries) =>
    Boolean(series.outsideScale) && series.points.every((point) => !Number.isFinite(point.y) || point.y > yMax);
  // The emphasized series is drawn last (on top) but listed first in the legend; off-chart ones are listed last.
  const ordered = [...chart.series].sort(
    (a, b) => Number(offChart(a)) - Number(offChart(b)) || Number(Boolean(b.emphasis)) - Number(Boolean(a.emphasis)),
  );
  const legendX = plot.right + 24;
  const legendTextX = legendX + 34;
  let legendY = plot.top + 8;
  let colorIndex = 0;
  const styled = ordered.map((series) => {
    const above = offChart(series);
    const lines = wrapText(above ? `above the chart: ${series.label}` : series.label, legendMaxTextWidth, series.emphasis);
    const entry = { series, above, lines, y: legendY, color: series.emphasis ? emphasisColor : palette[colorIndex++ % palette.length]! };
    legendY += lines.length * legendLineHeight + legendGap;
    return entry;
  });
  const legendWidth = Math.max(...styled.flatMap((entry) => entry.lines.map((line) => estimateTextWidth(line, fontSize, entry.series.emphasis))));
  const subtitleRight = plot.left + (chart.subtitle ? estimateTextWidth(chart.subtitle) : 0);
  const width = Math.ceil(Math.max(legendTextX + legendWidth, subtitleRight) + 16);
  const svgHeight = Math.max(height, Math.ceil(legendY));

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${svgHeight}" viewBox="0 0 ${width} ${svgHeight}" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="${fontSize}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${width}" height="${svgHeight}" fill="#ffffff"/>`,
    `<text x="${plot.left}" y="28" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`,
  );
  if (chart.subtitle) parts.push(`<text x="${plot.left}" y="48" fill="#444">${escapeXml(chart.subtitle)}</text>`);
  parts.push(`<defs><clipPath id="plot-area"><rect x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${plot.bottom - plot.top}"/></clipPath></defs>`);
  // Grid and axes.
  for (const tick of yTicks) {
    const y = fmt(sy(tick));
    parts.push(`<line x1="${plot.left}" y1="${y}" x2="${plot.right}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${plot.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatY(tick))}</text>`);
  }
  for (const tick of xTicks) {
    const x = fmt(sx(tick));
    parts.push(`<line x1="${x}" y1="${plot.top}" x2="${x}" y2="${plot.bottom}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${x}" y="${plot.bottom + 18}" text-anchor="middle">${fmt(tick)}</text>`);
  }
  parts.push(
    `<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="#333"/>`,
    `<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="#333"/>`,
    `<text x="${(plot.left + plot.right) / 2}" y="${plot.bottom + 44}" text-anchor="middle" font-size="13">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(22 ${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escapeXml(chart.yLabel)}</text>`,
  );
  if (chart.marker) {
    const x = fmt(sx(chart.marker.x));
    parts.push(
      `<line x1="${x}" y1="${plot.top}" x2="${x}" y2="${plot.bottom}" stroke="#555" stroke-dasharray="2 4"/>`,
      `<text x="${x}" y="${plot.top - 6}" text-anchor="middle" fill="#555">${escapeXml(chart.marker.label)}</text>`,
    );
  }
  for (const { series, color, above } of [...styled].reverse()) {
    if (above) continue;
    const d = series.points
      .filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y))
      .map((point, i) => `${i === 0 ? "M" : "L"}${fmt(sx(point.x))},${fmt(sy(point.y))}`)
      .join(" ");
    parts.push(
      `<path data-series="${escapeXml(series.label)}" d="${d}" fill="none" stroke="${color}" ` +
        `stroke-width="${series.emphasis ? 3 : 1.8}"${series.dashed ? ' stroke-dasharray="6 4"' : ""} clip-path="url(#plot-area)"/>`,
    );
  }
  // Legend: a line sample per drawn series, an arrow for one above the chart; long labels wrap.
  for (const { series, color, above, lines, y } of styled) {
    parts.push(
      above
        ? `<text x="${legendX + 13}" y="${y}" text-anchor="middle" dominant-baseline="middle" fill="${color}" font-weight="bold">↑</text>`
        : `<line x1="${legendX}" y1="${y}" x2="${legendX + 26}" y2="${y}" stroke="${color}" stroke-width="${series.emphasis ? 3 : 1.8}"${series.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    lines.forEach((line, i) => {
      parts.push(
        `<text class="legend" data-for="${escapeXml(series.label)}" x="${legendTextX}" y="${y + i * legendLineHeight}" dominant-baseline="middle"` +
          `${series.emphasis ? ' font-weight="bold"' : ""}>${escapeXml(line)}</text>`,
      );
    });
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
