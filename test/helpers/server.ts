// Servers on 127.0.0.1:0 for the integration suites, one engine each, and
// the engine list every suite is parametrised over.
import type { AddressInfo } from 'node:net';
import { createServer, engines, type EngineName, type ServerOptions, type SluiceOptions } from '../../server/src/index';

export interface TestServer {
  url: string;
  port: number;
  /** The server's open connections, as Node counts them (a socket leaves on 'close'). */
  connections(): Promise<number>;
  close(): Promise<void>;
  /** Whether the front door takes its connections. */
  frontDoor: boolean;
}

/**
 * A named engine moves every body, small ones included, unless the suite
 * says otherwise: io_uring would by default write files up to 16 KiB from
 * memory, as auto does, and its own path would go untested on them.
 */
export function engineOptions(opts: SluiceOptions): SluiceOptions {
  const named = opts.engine !== undefined && opts.engine !== 'auto';
  return named && opts.smallFileMax === undefined ? { ...opts, smallFileMax: 0 } : opts;
}

/**
 * The front door is on by default; SLUICE_TEST_FRONT_DOOR=0 runs every suite
 * that starts a server here (or the CLI, through cliArgs) with it off.
 */
const FRONT_DOOR = process.env.SLUICE_TEST_FRONT_DOOR === '0' ? false : undefined;

/** The CLI's arguments, with --no-front-door under SLUICE_TEST_FRONT_DOOR=0. */
export function cliArgs(args: string[]): string[] {
  return FRONT_DOOR === false && !args.includes('--front-door') ? [...args, '--no-front-door'] : args;
}

export async function startServer(root: string, opts: ServerOptions): Promise<TestServer> {
  const server = createServer(root, { ...(FRONT_DOOR === false ? { frontDoor: false } : {}), ...engineOptions(opts) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    frontDoor: server.sluice.frontDoor?.active() ?? false,
    connections: () => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n)))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An engine, or 'auto': what users get by default (engine + small files from memory). */
export type EngineChoice = EngineName | 'auto';

export interface EngineCase {
  name: EngineChoice;
  available: boolean;
  reason: string;
}

/** Every engine, copy (the oracle) first, then auto. */
export function engineCases(): EngineCase[] {
  const reports = engines();
  const order: EngineName[] = ['copy', 'sendfile', 'splice', 'io_uring'];
  const cases: EngineCase[] = order.map((name) => {
    const r = reports.find((x) => x.name === name);
    return { name, available: r?.available ?? false, reason: r?.reason ?? 'unknown engine' };
  });
  cases.push({ name: 'auto', available: true, reason: '' });
  return cases;
}

/**
 * Runs `suite` once per engine. An engine this machine cannot run is
 * reported as a pending test that names the reason, never passed silently.
 */
export function forEachEngine(title: string, suite: (engine: EngineChoice) => void): void {
  for (const c of engineCases()) {
    describe(`${title} [engine ${c.name}]`, function () {
      if (!c.available) {
        it.skip(`skipped: engine ${c.name} unavailable here (${c.reason})`, () => {});
        return;
      }
      suite(c.name);
    });
  }
}
