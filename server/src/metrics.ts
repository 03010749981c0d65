// Prometheus metrics for a server (createServer's `metrics`, the CLI's
// --metrics), in the text format, through prom-client: its registry,
// exposition, process metrics and cluster aggregation.
//
// The request path only adds to plain numbers, where the access log takes
// its figures (a response's 'close' and the delivery record of its body;
// the front door's 'frontDoorResponse'); prom-client's metrics read them
// when scraped. Connection states, in-flight requests, the file table, the
// compress cache and the fallbacks are read at scrape time too.
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { compressCounts, FALLBACK_REASONS, fallbacks, precompressedHits } from './counters';
import { deliveryOf, recordDeliveries } from './deliver';
import { isCaptureSocket } from './engines/capture';
import { frontDoorAware, type FrontDoorControl } from './engines/front-door';
import { connectionCount } from './engines/socket';
import { fileTable } from './file-table';

type FrontDoorStats = ReturnType<FrontDoorControl['stats']>;

type PromClient = typeof import('prom-client');
let prom: PromClient | undefined;

/** prom-client, loaded by the first server with metrics: a server without them never pays its memory. */
function promClient(): PromClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (prom ??= require('prom-client') as PromClient);
}

/** Where the metrics listener listens. */
export interface MetricsListen {
  /** 0 takes a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
}

/** createServer's `metrics`: true collects (read them with server.sluice.metrics), a port also serves them. */
export type MetricsOption = boolean | MetricsListen;

/** Upper bounds (seconds) of the request duration histogram's buckets. */
export const DURATION_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The engine label of responses Node's HTTP layer wrote whole (error pages, redirects, listings). */
const NODE_WRITTEN = 'node';
const FRONT_DOOR = 'front-door';

/** Checks createServer's `metrics` option: null when off. */
export function metricsOption(value: unknown): { listen: MetricsListen | null } | null {
  if (value === undefined || value === false) return null;
  if (value === true) return { listen: null };
  const v = value as Partial<MetricsListen> | null;
  const port = v?.port;
  if (typeof v !== 'object' || v === null || typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid(`The "metrics" option must be a boolean or { port: 0-65535, host? }. Received ${JSON.stringify(value)}`);
  }
  if (v.host !== undefined && (typeof v.host !== 'string' || v.host === '')) throw invalid('The "metrics.host" option must be a non-empty string');
  return { listen: { port, host: v.host ?? '127.0.0.1' } };
}

function invalid(message: string): TypeError {
  const err = new TypeError(message);
  (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** The counts one server's responses add to. */
class Tally {
  /** method → status → responses. */
  readonly requests = new Map<string, Map<number, number>>();
  /** engine → body bytes. */
  readonly bytes = new Map<string, number>();
  /** Responses per duration bucket (not cumulative; the last one is +Inf). */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  durationSum = 0;
  durationCount = 0;

  /** This tally with the front door's added (a copy; null: this one). */
  addingFrontDoor(door: FrontDoorControl | null): Tally {
    if (door === null) return this;
    const t = door.sendTally();
    const sum = new Tally();
    for (const [method, byStatus] of this.requests) sum.requests.set(method, new Map(byStatus));
    for (const [method, status, n] of t.replies) {
      const byStatus = sum.requests.get(method) ?? new Map<number, number>();
      byStatus.set(status, (byStatus.get(status) ?? 0) + n);
      sum.requests.set(method, byStatus);
    }
    for (const [engine, n] of this.bytes) sum.bytes.set(engine, n);
    if (t.bytes > 0) sum.bytes.set(FRONT_DOOR, (sum.bytes.get(FRONT_DOOR) ?? 0) + t.bytes);
    this.buckets.forEach((n, i) => (sum.buckets[i] = n + (t.buckets[i] ?? 0)));
    sum.durationSum = this.durationSum + t.sum;
    sum.durationCount = this.durationCount + t.count;
    return sum;
  }

  add(method: string, status: number, engine: string, bytes: number, seconds: number): void {
    let byStatus = this.requests.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.requests.set(method, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    if (bytes > 0) this.bytes.set(engine, (this.bytes.get(engine) ?? 0) + bytes);
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++;
    this.buckets[i]++;
    this.durationSum += seconds;
    this.durationCount++;
  }
}

/** The active front doors' stats, summed; null with none. */
function summedStats(doors: readonly FrontDoorControl[]): FrontDoorStats | null {
  const active = doors.filter((d) => d.active()).map((d) => d.stats());
  if (active.length <= 1) return active[0] ?? null;
  const sum = { ...active[0] } as FrontDoorStats;
  const fields = Object.keys(sum) as (keyof FrontDoorStats)[];
  for (const stats of active.slice(1)) for (const k of fields) sum[k] += stats[k];
  return sum;
}

/** What the connection gauges read: nginx's stub_status states. */
interface ConnectionStates {
  reading: number;
  writing: number;
  idle: number;
}

/** The metrics of one server, and the listener that serves them when asked. */
export class ServerMetrics {
  readonly registry: Registry;
  private readonly tally = new Tally();
  /** Node's requests between 'request' and their response's close. */
  private inFlight = 0;
  /** Node's connections that have not yet had a request. */
  private awaitingFirst = 0;
  private readonly fresh = new WeakSet<Socket>();
  private listener: http.Server | null = null;
  /** The servers counted (several with several -l), and their front doors. */
  private readonly doors: FrontDoorControl[] = [];
  private readonly servers: http.Server[] = [];

  constructor() {
    const { collectDefaultMetrics, Registry } = promClient();
    this.registry = new Registry();
    collectDefaultMetrics({ register: this.registry });
    this.defineTraffic();
    this.defineState();
    this.defineCaches();
  }

  /**
   * Counts `server`'s requests and connections from now on (and `door`'s
   * replies), with those of every server watched before (one set of
   * metrics for all of a CLI's listeners).
   */
  watch(server: http.Server, door: FrontDoorControl | null): void {
    this.servers.push(server);
    if (door !== null) this.doors.push(door);
    recordDeliveries();
    server.prependListener(
      'connection',
      frontDoorAware((socket: Socket) => this.connected(socket)),
    );
    server.prependListener(
      'request',
      frontDoorAware((req: http.IncomingMessage, res: http.ServerResponse) => this.request(req, res)),
    );
    // The front door counts its replies itself: no call into JS per reply.
    if (door !== null) door.tallySends(DURATION_BUCKETS);
  }

  /** The metrics in the text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private connected(socket: Socket): void {
    if (isCaptureSocket(socket)) return;
    this.awaitingFirst++;
    this.fresh.add(socket);
    socket.once('close', () => {
      if (this.fresh.delete(socket)) this.awaitingFirst--;
    });
  }

  private request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    // A request the front door replays: it reports the reply itself.
    if (isCaptureSocket(socket)) return;
    if (this.fresh.delete(socket)) this.awaitingFirst--;
    this.inFlight++;
    const started = performance.now();
    res.once('close', () => this.closed(req, res, started));
  }

  private closed(req: http.IncomingMessage, res: http.ServerResponse, started: number): void {
    this.inFlight--;
    const method = req.method ?? '';
    const delivery = deliveryOf(res);
    if (delivery !== undefined) {
      delivery.whenSettled(() => this.tally.add(method, res.statusCode, delivery.engine, delivery.bodyBytes, (performance.now() - started) / 1000));
      return;
    }
    // Written whole by Node (an error page, a redirect): its Content-Length, once it finished.
    const length = res.writableFinished && method !== 'HEAD' && res.statusCode !== 304 ? Number(res.getHeader('content-length')) || 0 : 0;
    this.tally.add(method, res.statusCode, NODE_WRITTEN, length, (performance.now() - started) / 1000);
  }

  private doorStats(): FrontDoorStats | null {
    return summedStats(this.doors);
  }

  /** Reading: a request head partly received; writing: a request being answered; idle: the rest (kept alive, or silent). */
  connectionStates(): ConnectionStates {
    const door = this.doorStats();
    const total = this.servers.reduce((n, server) => n + connectionCount(server), 0);
    const reading = (door?.partial ?? 0) + this.awaitingFirst;
    const writing = (door === null ? 0 : door.asking + door.writing) + this.inFlight;
    return { reading, writing, idle: Math.max(0, total - reading - writing) };
  }

  /** The counts to scrape: the servers', with their front doors'. */
  private snapshot(): Tally {
    return this.doors.reduce((tally, door) => tally.addingFrontDoor(door), this.tally);
  }

  private defineTraffic(): void {
    const { Counter } = promClient();
    const snapshot = (): Tally => this.snapshot();
    const registers = [this.registry];
    new Counter({
      name: 'sluice_requests_total',
      help: 'Responses, by request method and status (those the front door sent included)',
      labelNames: ['method', 'status'],
      registers,
      collect() {
        this.reset();
        for (const [method, byStatus] of snapshot().requests) for (const [status, n] of byStatus) this.inc({ method, status: String(status) }, n);
      },
    });
    new Counter({
      name: 'sluice_body_bytes_total',
      help: 'Body bytes sent, by what moved them (sendfile, splice, io_uring, copy, memory, piped, stream, node, front-door)',
      labelNames: ['engine'],
      registers,
      collect() {
        this.reset();
        for (const [engine, n] of snapshot().bytes) this.inc({ engine }, n);
      },
    });
    this.registry.registerMetric(durationHistogram(snapshot) as never);
    new Counter({
      name: 'sluice_copy_fallbacks_total',
      help: 'Bodies copied although the engine is a zero-copy one, by reason (this process)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const reason of FALLBACK_REASONS) this.inc({ reason }, fallbacks[reason]);
      },
    });
  }

  private defineState(): void {
    const { Counter, Gauge } = promClient();
    const registers = [this.registry];
    const states = (): ConnectionStates => this.connectionStates();
    const inFlight = (): number => this.inFlight + (this.doorStats()?.asking ?? 0) + (this.doorStats()?.writing ?? 0);
    const doorStats = (): FrontDoorStats | null => this.doorStats();
    new Gauge({
      name: 'sluice_requests_in_flight',
      help: 'Requests received and not yet answered to their last byte',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    new Gauge({
      name: 'sluice_connections',
      help: "Open connections, by state as nginx's stub_status counts them (reading a request head, writing a response, idle)",
      labelNames: ['state'],
      registers,
      collect() {
        const s = states();
        this.set({ state: 'reading' }, s.reading);
        this.set({ state: 'writing' }, s.writing);
        this.set({ state: 'idle' }, s.idle);
      },
    });
    new Counter({
      name: 'sluice_front_door_lookups_total',
      help: 'Plain requests the front door answered from a kept reply (hit) or asked the server about (miss)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        const s = doorStats();
        this.inc({ result: 'hit' }, s?.hits ?? 0);
        this.inc({ result: 'miss' }, s?.misses ?? 0);
      },
    });
  }

  private defineCaches(): void {
    const { Counter, Gauge } = promClient();
    const registers = [this.registry];
    new Gauge({
      name: 'sluice_file_table_files',
      help: 'Files the file table holds open, and its capacity (this process)',
      labelNames: ['of'],
      registers,
      collect() {
        this.set({ of: 'open' }, fileTable.size);
        this.set({ of: 'capacity' }, fileTable.capacity);
      },
    });
    new Counter({
      name: 'sluice_file_table_opens_total',
      help: 'File opens: from a trusted entry (hit), after a stat found it unchanged (revalidated), or by open(2) (miss)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        const c = fileTable.counts;
        this.inc({ result: 'hit' }, c.hits);
        this.inc({ result: 'revalidated' }, c.revalidated);
        this.inc({ result: 'miss' }, c.misses);
      },
    });
    new Counter({
      name: 'sluice_file_table_evictions_total',
      help: 'Entries closed to make room (room), because descriptors ran short (shortage), or unasked for 60 s (inactive)',
      labelNames: ['why'],
      registers,
      collect() {
        this.reset();
        this.inc({ why: 'room' }, fileTable.counts.evicted);
        this.inc({ why: 'shortage' }, fileTable.counts.shed);
        this.inc({ why: 'inactive' }, fileTable.counts.inactive);
      },
    });
    defineCompress(registers);
    new Counter({
      name: 'sluice_precompressed_hits_total',
      help: 'Responses answered from a precompressed sibling on disk, by coding',
      labelNames: ['coding'],
      registers,
      collect() {
        this.reset();
        for (const coding of Object.keys(precompressedHits)) this.inc({ coding }, precompressedHits[coding] ?? 0);
      },
    });
  }

  /** Serves the metrics on `listen` (GET or HEAD /metrics); `ready` once listening, `failed` if it cannot. */
  listen(listen: MetricsListen, ready: (server: http.Server) => void, failed: (err: Error) => void): void {
    const listener = metricsListener(() => this.text(), this.registry.contentType);
    this.listener = listener;
    listener.once('error', failed);
    listener.listen(listen.port, listen.host, () => ready(listener));
  }

  close(): void {
    this.listener?.close();
    this.listener?.closeAllConnections();
    this.listener = null;
  }

  /** Where the listener listens, once it does. */
  address(): ReturnType<http.Server['address']> {
    return this.listener?.address() ?? null;
  }
}

function defineCompress(registers: Registry[]): void {
  const { Counter, Gauge } = promClient();
  new Gauge({
    name: 'sluice_compress_queue',
    help: 'Variants waiting for the compressing worker (queued) and being made (running) (this process)',
    labelNames: ['state'],
    registers,
    collect() {
      this.set({ state: 'queued' }, compressCounts.queued);
      this.set({ state: 'running' }, compressCounts.running);
    },
  });
  new Counter({
    name: 'sluice_compress_lookups_total',
    help: 'Compress cache lookups: the variant was ready (hit), or identity was sent and the variant scheduled (miss)',
    labelNames: ['result'],
    registers,
    collect() {
      this.reset();
      this.inc({ result: 'hit' }, compressCounts.hits);
      this.inc({ result: 'miss' }, compressCounts.misses);
    },
  });
  new Counter({
    name: 'sluice_compress_variants_total',
    help: 'Compress cache variants: made, adopted (made by another process), dropped (queue full), failed, evicted',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const outcome of ['made', 'adopted', 'dropped', 'failed', 'evicted'] as const) this.inc({ outcome }, compressCounts[outcome]);
    },
  });
}

/** The request duration histogram, read from the tally when scraped (prom-client's metric shape). */
function durationHistogram(snapshot: () => Tally): object {
  const name = 'sluice_request_duration_seconds';
  const help = 'Time from the request head to the last body byte handed to the kernel';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const tally = snapshot();
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += tally.buckets[i] ?? 0;
        values.push({ labels: { le }, value: cumulative, metricName: `${name}_bucket` });
      });
      values.push({ labels: { le: '+Inf' }, value: tally.durationCount, metricName: `${name}_bucket` });
      values.push({ labels: {}, value: tally.durationSum, metricName: `${name}_sum` });
      values.push({ labels: {}, value: tally.durationCount, metricName: `${name}_count` });
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}

/** An HTTP server answering GET and HEAD /metrics with `text()`; 404 elsewhere. */
export function metricsListener(text: () => Promise<string>, contentType: string): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' }).end(path === '/metrics' ? 'GET or HEAD\n' : 'see /metrics\n');
      return;
    }
    text().then(
      (body) => res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
}

/**
 * In a --workers worker: answers the primary's requests for this
 * registry's metrics (prom-client's cluster messages, on node:cluster's
 * IPC channel, which both ways of sharing the port keep).
 */
export function shareWithPrimary(registry: Registry): void {
  const { AggregatorRegistry } = promClient();
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
}

/** In the --workers primary: serves the sum over every worker's metrics on `listen`. */
export function serveClusterMetrics(listen: MetricsListen, ready: (server: http.Server) => void, failed: (err: Error) => void): void {
  const { AggregatorRegistry } = promClient();
  const aggregator = new AggregatorRegistry();
  const listener = metricsListener(() => aggregator.clusterMetrics(), aggregator.contentType);
  listener.once('error', failed);
  listener.listen(listen.port, listen.host, () => ready(listener));
}
