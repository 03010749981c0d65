'use strict';
// A hand-made SVG bar chart: one panel per case (req/s, or for large files
// GB/s and CPU-s/GiB), a bar per subject at the median with a min–max
// whisker. No dependencies.

const COLORS = { sluice: '#2f6fb3', peer: '#9a9a9a', ceiling: '#5a9e5a', ref: '#c07a2c' };
const W = 960;
const LABEL_W = 190;
const VALUE_W = 150;
const BAR_W = W - LABEL_W - VALUE_W - 20;
const ROW_H = 20;
const TITLE_H = 30;
const GAP = 16;

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panel(y, title, rows, metric, fmt, lowerIsBetter) {
  const measured = rows.filter((r) => r.status === 'ok' && r.summary && r.summary[metric].median !== null);
  const max = Math.max(1e-9, ...measured.map((r) => r.summary[metric].max));
  const out = [`<text x="10" y="${y + 20}" font-weight="bold">${esc(title)}${lowerIsBetter ? ' (lower is better)' : ''}</text>`];
  let yy = y + TITLE_H;
  for (const row of rows) {
    out.push(`<text x="${LABEL_W - 8}" y="${yy + 14}" text-anchor="end">${esc(row.name)}</text>`);
    if (row.status !== 'ok' || !row.summary) {
      const what = row.status === 'skipped' ? 'skipped' : 'FAILED';
      out.push(`<text x="${LABEL_W + 4}" y="${yy + 14}" fill="${what === 'FAILED' ? '#c00' : '#888'}">${what}</text>`);
      yy += ROW_H;
      continue;
    }
    const s = row.summary[metric];
    const w = (v) => Math.max(1, (v / max) * BAR_W);
    out.push(`<rect x="${LABEL_W}" y="${yy + 3}" width="${w(s.median).toFixed(1)}" height="${ROW_H - 6}" fill="${COLORS[row.group] || '#777'}"/>`);
    if (s.n > 1) {
      const x1 = LABEL_W + w(s.min);
      const x2 = LABEL_W + w(s.max);
      const cy = yy + ROW_H / 2;
      out.push(
        `<path d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 4}V${cy + 4}M${x2.toFixed(1)} ${cy - 4}V${cy + 4}" stroke="#222" stroke-width="1"/>`,
      );
    }
    const tag = row.clientBound ? ' (client-bound)' : '';
    out.push(`<text x="${LABEL_W + BAR_W + 8}" y="${yy + 14}">${esc(fmt(s.median) + tag)}</text>`);
    yy += ROW_H;
  }
  return { svg: out.join('\n'), height: yy - y + GAP };
}

function chart(results) {
  const parts = [];
  let y = 40;
  for (const kase of results.cases) {
    const panels =
      kase.kind === 'bulk'
        ? [
            [`${kase.label}: GB/s`, 'MBps', (v) => `${(v / 1000).toFixed(2)} GB/s`, false],
            [`${kase.label}: server CPU-s per GiB`, 'cpuSecPerGiB', (v) => `${v.toFixed(2)} CPU-s/GiB`, true],
          ]
        : [[`${kase.label}: requests/s`, 'rps', (v) => `${Math.round(v).toLocaleString('en-US')} req/s`, false]];
    for (const [title, metric, fmt, lower] of panels) {
      const p = panel(y, title, kase.rows, metric, fmt, lower);
      parts.push(p.svg);
      y += p.height;
    }
  }
  const legend = Object.entries(COLORS)
    .map(([g, c], i) => `<rect x="${10 + i * 110}" y="${y}" width="12" height="12" fill="${c}"/><text x="${28 + i * 110}" y="${y + 11}">${g}</text>`)
    .join('');
  y += 30;
  const title = `sluice benchmark — ${results.env.date.replace(/\.\d+Z$/, 'Z')} — ${results.env.cpuModel} × ${results.env.nproc}, Linux ${results.env.kernel}, node ${results.env.node}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" font-size="14" font-weight="bold">${esc(title)}</text>
${parts.join('\n')}
${legend}
</svg>
`;
}

module.exports = { chart };
