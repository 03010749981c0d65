'use strict';
// The files the from-memory ceiling servers answer with: each read once at
// start-up, with the headers a static server sends, precomputed.

const fs = require('node:fs');
const path = require('node:path');

/** URL path → { body, headers } for each name under root. */
function loadFiles(root, names) {
  const files = new Map();
  for (const name of names) {
    const file = path.join(root, name);
    const body = fs.readFileSync(file);
    const st = fs.statSync(file);
    files.set(`/${name}`, {
      body,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(body.length),
        'Accept-Ranges': 'bytes',
        ETag: `W/"${body.length.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
        'Last-Modified': st.mtime.toUTCString(),
      },
    });
  }
  return files;
}

module.exports = { loadFiles };
