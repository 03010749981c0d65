'use strict';
// Marks the tests an exclusions file lists as skipped in a peer suite's
// working copy: `it('name'` becomes `it.skip('name'` (mocha, jest), with the
// reason in a comment above it. Exits non-zero when an exclusion no longer
// matches a test (renamed upstream).
//
//   node mark-skipped.js <mocha|jest> <workdir> <exclusions>
const fs = require('fs');
const path = require('path');

const [, , _runner, work, list] = process.argv;
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const [file, name, reason] = line.split('\t');
  const target = path.join(work, 'test', file);
  const text = fs.readFileSync(target, 'utf8');
  const call = new RegExp(`(\\n[ \\t]*)it\\((\\s*)(['"\`])${escape(name)}\\3`);
  if (!call.test(text)) {
    console.error(`exclusion not found (renamed upstream?): ${file}: ${name}`);
    process.exitCode = 1;
    continue;
  }
  const skipped = text.replace(call, (_m, lead, space, q) => `${lead}// sluice: ${reason}${lead}it.skip(${space}${q}${name}${q}`);
  fs.writeFileSync(target, skipped);
}
