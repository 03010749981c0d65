// Starting the CLI as a child process, as users and other tools run it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { cliArgs } from './server';

export const CLI = path.resolve(__dirname, '..', '..', '..', 'dist', 'cli.js');

export interface StartedCli {
  child: ChildProcess;
  port: number;
  /** The start line. */
  firstLine: string;
  /** Everything it printed on stdout so far. */
  output(): string;
}

/**
 * Runs `command` with `args` (by default node on the CLI), with `env` added
 * to this process's environment, and resolves once the start line names the
 * port; rejects if the process exits first.
 */
export function startCli(args: string[], command: string = process.execPath, commandArgs: string[] = [CLI], env: NodeJS.ProcessEnv = {}): Promise<StartedCli> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...commandArgs, ...(commandArgs[0] === CLI ? cliArgs(args) : args)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const port = /https?:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      if (port) resolve({ child, port: Number(port), firstLine: out.split('\n')[0] ?? '', output: () => out });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}
