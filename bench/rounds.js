'use strict';
// The interleaved-rounds loop every bench script uses: each round runs every
// subject once, starting at a different one (a rotation), so that drift in
// the machine's other load over a run falls on every subject alike.

/** `list` in the order round `round` runs it. */
function roundOrder(list, round) {
  if (list.length === 0) return [];
  const k = round % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/**
 * Awaits `each(item, round)` for every item of `list`, in `rounds` interleaved
 * rounds. `list` may be a function of the round returning the items, for a
 * caller whose list shrinks between rounds (a subject that failed drops out,
 * and the rest rotate among themselves).
 */
async function interleaved(list, rounds, each) {
  for (let round = 0; round < rounds; round++) {
    const items = typeof list === 'function' ? list(round) : list;
    for (const item of roundOrder(items, round)) await each(item, round);
  }
}

module.exports = { interleaved, roundOrder };
