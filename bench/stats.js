'use strict';
// Median and spread of repeated measurements.

function finite(values) {
  return values.filter((v) => typeof v === 'number' && Number.isFinite(v));
}

function median(values) {
  const v = finite(values).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** { median, min, max, n } of the finite values (nulls when there are none). */
function summary(values) {
  const v = finite(values);
  if (v.length === 0) return { median: null, min: null, max: null, n: 0 };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

module.exports = { median, summary };
