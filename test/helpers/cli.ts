// Starting, stopping and running the CLI as a child process, as users and
// other tools do. Every test under test/cli goes through these, so how a
// server counts as started, and how it is stopped, is decided once.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { cliArgs } from './server';

export const CLI = path.resolve(__dirname, '..', '..', '..', 'dist', 'cli.js');
/** The http-server mode's own bin, which takes sluice's --no-front-door too. */
export const HTTP_SERVER_BIN = path.resolve(__dirname, '..', '..', '..', 'dist', 'http-server-sluice.js');
/** The programs whose arguments get --no-front-door under SLUICE_TEST_FRONT_DOOR=0 (cliArgs). */
const SLUICE_BINS: readonly string[] = [CLI, HTTP_SERVER_BIN];

/** A URL on the loopback address, as the start line prints it: scheme, port. */
const LOOPBACK_URL = /(https?):\/\/127\.0\.0\.1:(\d+)/;

export interface Launch {
  /** The program (node by default) and its arguments before `args` ([CLI] by default). */
  command?: string;
  commandArgs?: string[];
  /** Added to this process's environment; a key set to undefined is removed. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /**
   * When the process counts as started: once its whole printed lines show a
   * URL matching this (groups: scheme, port; a loopback URL by default), or
   * at its first whole line ('line').
   */
  ready?: RegExp | 'line';
}

export interface StartedCli {
  child: ChildProcess;
  /** The port of the URL it printed (0 if it printed none, with ready: 'line'). */
  port: number;
  /** That URL with 127.0.0.1 for its host. */
  base: string;
  /** The start line. */
  firstLine: string;
  /** Everything it printed on stdout so far. */
  output(): string;
  /** Everything it printed on stderr so far (also passed on to this process's stderr). */
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout, now or as it is printed; rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
}

/**
 * Runs `args` (by default node on the CLI, with `env` added to this
 * process's environment) and resolves once it has started (see
 * Launch.ready); rejects if it exits first.
 */
export function startCli(args: string[], command?: string, commandArgs?: string[], env?: NodeJS.ProcessEnv): Promise<StartedCli> {
  return launchCli(args, { command, commandArgs, env });
}

/** startCli with every choice named. */
export function launchCli(args: string[], how: Launch = {}): Promise<StartedCli> {
  const commandArgs = how.commandArgs ?? [CLI];
  const child = spawn(how.command ?? process.execPath, [...commandArgs, ...(SLUICE_BINS.includes(commandArgs[0] ?? '') ? cliArgs(args) : args)], {
    cwd: how.cwd,
    env: { ...process.env, ...how.env },
    uid: how.uid,
    gid: how.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    process.stderr.write(c);
  });
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const look = (): void => {
      const started = startedBy(out, how.ready ?? LOOPBACK_URL);
      if (!started) return;
      child.stdout.off('data', look);
      resolve({ child, ...started, output: () => out, stderr: () => err, waitFor: (pattern, ms) => printed(child, () => out, pattern, ms) });
    };
    child.stdout.on('data', look);
    child.once('exit', (code, signal) => reject(new Error(`exited with ${code ?? signal} before it started: ${err}`)));
  });
}

/** The start line and the URL, once `out`'s whole lines show the process started. */
function startedBy(out: string, ready: RegExp | 'line'): { port: number; base: string; firstLine: string } | null {
  const whole = out.slice(0, out.lastIndexOf('\n') + 1);
  if (whole === '') return null;
  const url = (ready === 'line' ? LOOPBACK_URL : ready).exec(whole);
  if (ready !== 'line' && !url) return null;
  const port = url ? Number(url[2]) : 0;
  return { port, base: url ? `${url[1]}://127.0.0.1:${port}` : '', firstLine: whole.slice(0, whole.indexOf('\n')) };
}

function printed(child: ChildProcess, out: () => string, pattern: RegExp, ms = 5000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.stdout?.off('data', look);
      reject(new Error(`${pattern} not printed in ${ms} ms (printed: ${JSON.stringify(out())})`));
    }, ms);
    function look(): void {
      const m = pattern.exec(out());
      if (!m) return;
      clearTimeout(timer);
      child.stdout?.off('data', look);
      resolve(m);
    }
    child.stdout?.on('data', look);
    look();
  });
}

/**
 * Sends `signal` (SIGTERM by default) unless the process has ended, and
 * resolves with its exit code once it has; SIGKILL follows after
 * `killAfterMs`, if given.
 */
export function stopCli(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', killAfterMs?: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve(child?.exitCode ?? null);
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill(signal);
  });
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** What it reads on stdin. */
  input?: string;
  /** Killed (SIGKILL) past this; 10 s by default. */
  timeoutMs?: number;
}

/** Runs the CLI with `args` to its end, as a command that refuses, or prints and exits. */
export function runCli(args: string[], opts: CliRunOptions = {}): CliRun {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 10_000,
    killSignal: 'SIGKILL',
    env: { ...process.env, ...opts.env },
    input: opts.input,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
