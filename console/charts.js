// SVG charts of recent per-second figures: a sparkline for tables, a line chart with a legend
// and a scale for the stream page. Both redraw whole on every update (a few hundred points).

import { h, svg } from './dom.js';

const POINTS = 120; // the x axis always spans this many seconds, newest on the right

function path(values, width, height, top) {
  const start = POINTS - values.length;
  return values
    .map((value, i) => {
      const x = ((start + i) / (POINTS - 1)) * width;
      const y = height - (top > 0 ? (value / top) * height : 0);
      return `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join('');
}

export function sparkline(values, { width = 120, height = 24 } = {}) {
  const top = Math.max(...values, 0);
  return svg(
    'svg',
    { class: 'sparkline', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' },
    svg('path', { d: path(values, width, height - 1, top), class: 'line' }),
  );
}

// `series`: [{ label, values, className }]; `format` turns a value into text for the scale and
// the latest figures.
export function lineChart({ title, series, format }) {
  const width = 480;
  const height = 140;
  const top = niceCeiling(Math.max(0, ...series.flatMap((s) => s.values)));
  const grid = [0, 0.5, 1].map((f) =>
    svg('g', {},
      svg('line', { x1: 0, x2: width, y1: height - f * height, y2: height - f * height, class: 'grid' }),
      svg('text', { x: 2, y: Math.max(10, height - f * height - 3), class: 'scale' }, format(top * f)),
    ),
  );
  return h('figure', { class: 'chart' },
    h('figcaption', {}, title, ' ',
      series.map((s) => h('span', { class: `legend ${s.className}` }, `${s.label} ${format(s.values.at(-1) ?? 0)}`)),
    ),
    svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title },
      grid,
      series.map((s) => svg('path', { d: path(s.values, width, height, top), class: `line ${s.className}` })),
    ),
  );
}

// 1, 2 or 5 times a power of ten at or above `value` (1 for 0), for a readable scale.
function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= value);
}
