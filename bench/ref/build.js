'use strict';
// Compiles a C reference (bench/ref/<name>.c) with `cc -O2` into a temp dir,
// when cc exists. Returns { binary, dir, cleanup } or { skip: reason }.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { onPath } = require('../procs');

function buildReference(name) {
  const cc = onPath('cc') || onPath('gcc') || onPath('clang');
  if (!cc) return { skip: 'no C compiler (cc) on PATH' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-ref-'));
  const binary = path.join(dir, name);
  try {
    execFileSync(cc, ['-O2', '-Wall', '-o', binary, path.join(__dirname, `${name}.c`)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60000,
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    const msg = String(err.stderr || err.message)
      .trim()
      .split('\n')
      .slice(-3)
      .join(' ');
    return { skip: `cc failed: ${msg}` };
  }
  return {
    binary,
    dir,
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The blocking sendfile loop (large files, one connection). */
const buildSendfileServer = () => buildReference('sendfile_server');
/** The epoll server answering from memory (small files, many connections). */
const buildEpollServer = () => buildReference('epoll_server');

module.exports = { buildReference, buildSendfileServer, buildEpollServer };
