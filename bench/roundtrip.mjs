#!/usr/bin/env node
// Benchmarks of `opencode-orchestrator serve` over stdio, with vscode-jsonrpc as the client:
//   (a) cold start: spawn -> `initialize` reply
//   (b) idle RSS after initialize + initialized + 1 s idle
//   (c) sequential request round trips: orchestrator/stats and orchestrator/tools/list
//   (d) sequential orchestrator/task/delegate round trips on the scripted backend
//
// A measurement tool, not a test: it never asserts on timings. It exits non-zero only when the
// server misbehaves (no reply, a crash, a non-zero exit code after shutdown + exit).
//
// Usage: node roundtrip.mjs [binary] [--spawns N] [--rss-samples N] [--warmup N]
//                           [--requests N] [--delegates N] [--json FILE] [--quiet]
// The binary comes from the argument, else OPENCODE_ORCHESTRATOR_BIN, else
// ../target/release/opencode-orchestrator relative to this file.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPLY_TIMEOUT_MS = 15_000;

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    spawns: { type: 'string', default: '20' },
    'rss-samples': { type: 'string', default: '5' },
    warmup: { type: 'string', default: '200' },
    requests: { type: 'string', default: '5000' },
    delegates: { type: 'string', default: '1000' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  console.log(
    'usage: node roundtrip.mjs [binary] [--spawns 20] [--rss-samples 5] [--warmup 200] ' +
      '[--requests 5000] [--delegates 1000 (0 skips)] [--json FILE] [--quiet]',
  );
  process.exit(0);
}

function count(name) {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${opts[name]}`);
    process.exit(2);
  }
  return n;
}

const BIN = resolve(
  positionals[0] ?? process.env.OPENCODE_ORCHESTRATOR_BIN ?? join(HERE, '../target/release/opencode-orchestrator'),
);
const SPAWNS = count('spawns');
const RSS_SAMPLES = count('rss-samples');
const WARMUP = count('warmup');
const REQUESTS = count('requests');
const DELEGATES = count('delegates');

if (!existsSync(BIN)) {
  console.error(`server binary not found at ${BIN}; build it with \`cargo build --release\` or pass its path`);
  process.exit(2);
}

const log = opts.quiet ? () => {} : (...a) => console.error(...a);

// ---------------------------------------------------------------------------------------------
// Statistics

/** Nearest-rank percentile of an ascending array (q in 0..1). */
function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? null,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? null,
    mean: sorted.length ? sum / sorted.length : null,
  };
}

const nsToUs = (ns) => Number(ns) / 1_000;
const nsToMs = (ns) => Number(ns) / 1_000_000;
const round = (v, digits = 1) => (v === null ? null : Number(v.toFixed(digits)));
const roundAll = (s, digits) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === 'n' ? v : round(v, digits)]));

// ---------------------------------------------------------------------------------------------
// Server process

const live = new Set();
function killAll() {
  for (const child of live) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class Server {
  /** Spawns the server on a fresh workspace; `t0` is taken just before the spawn. */
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'oo-bench-'));
    this.workspace = join(this.dir, 'ws');
    const xdg = join(this.dir, 'xdg'); // no user-wide config of this machine
    mkdirSync(this.workspace);
    mkdirSync(xdg);
    this.stderr = '';
    this.t0 = process.hrtime.bigint();
    this.child = spawn(BIN, ['serve', '--standalone', '--log-file', join(this.dir, 'server.log')], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, XDG_CONFIG_HOME: xdg },
    });
    live.add(this.child);
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (c) => {
      if (this.stderr.length < 8192) this.stderr += c;
    });
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((res) =>
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        res({ code, signal });
      }),
    );
    this.clientErrors = [];
    const logger = {
      error: (m) => this.clientErrors.push(String(m)),
      warn: (m) => this.clientErrors.push(String(m)),
      info: () => {},
      log: () => {},
    };
    this.conn = createMessageConnection(
      new StreamMessageReader(this.child.stdout),
      new StreamMessageWriter(this.child.stdin),
      logger,
    );
    this.conn.listen();
  }

  request(method, params) {
    const p = params === undefined ? this.conn.sendRequest(method) : this.conn.sendRequest(method, params);
    return within(p, REPLY_TIMEOUT_MS, method);
  }

  /** Sends `initialize`; returns the nanoseconds from spawn to its reply. */
  async initialize(config) {
    const initializationOptions = { workspaceRoot: this.workspace, clientName: 'bench' };
    if (config) initializationOptions.config = config;
    await this.request('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions,
    });
    const spawnToInit = process.hrtime.bigint() - this.t0;
    await this.conn.sendNotification('initialized', {});
    return spawnToInit;
  }

  /**
   * shutdown + exit; throws unless the process exits with code 0. Returns the nanoseconds the
   * `shutdown` reply took and from sending `exit` to the process's end.
   */
  async stop() {
    const t = process.hrtime.bigint();
    await this.request('shutdown');
    const t1 = process.hrtime.bigint();
    await this.conn.sendNotification('exit');
    const { code, signal } = await within(this.exited, REPLY_TIMEOUT_MS, 'process exit');
    const t2 = process.hrtime.bigint();
    this.conn.dispose();
    rmSync(this.dir, { recursive: true, force: true });
    if (code !== 0) {
      throw new Error(`server exited with code ${code} signal ${signal}; stderr: ${this.stderr}`);
    }
    if (this.clientErrors.length) {
      throw new Error(`vscode-jsonrpc reported: ${this.clientErrors.join(' | ')}`);
    }
    return { shutdownNs: t1 - t, exitNs: t2 - t1, endedAt: t2 };
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.conn.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Fields of /proc/<pid>/status, in kB where the kernel says kB. */
  procStatus() {
    const text = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const field = (name) => {
      const m = text.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'));
      return m ? Number(m[1]) : null;
    };
    return { vmRssKb: field('VmRSS'), vmHwmKb: field('VmHWM'), threads: field('Threads') };
  }
}

async function withServer(fn) {
  const server = new Server();
  try {
    return await fn(server);
  } catch (e) {
    server.kill();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

/** Spawn -> exit of `opencode-orchestrator version`: process start-up with no server at all. */
async function versionRun() {
  const t = process.hrtime.bigint();
  const child = spawn(BIN, ['version'], { stdio: ['ignore', 'ignore', 'ignore'] });
  live.add(child);
  const code = await within(
    new Promise((res, rej) => {
      child.once('error', rej);
      child.once('exit', (c) => res(c));
    }),
    REPLY_TIMEOUT_MS,
    '`version` to exit',
  );
  live.delete(child);
  if (code !== 0) throw new Error(`\`${BIN} version\` exited with ${code}`);
  return process.hrtime.bigint() - t;
}

async function coldStart() {
  const toInit = [];
  const lifecycle = [];
  const shutdown = [];
  const exit = [];
  const version = [];
  for (let i = 0; i < SPAWNS; i++) {
    await withServer(async (s) => {
      toInit.push(nsToMs(await s.initialize()));
      const { shutdownNs, exitNs, endedAt } = await s.stop();
      lifecycle.push(nsToMs(endedAt - s.t0));
      shutdown.push(nsToMs(shutdownNs));
      exit.push(nsToMs(exitNs));
    });
    version.push(nsToMs(await versionRun()));
  }
  return {
    spawnToInitializeMs: roundAll(summarize(toInit), 2),
    shutdownReplyMs: roundAll(summarize(shutdown), 2),
    exitToProcessEndMs: roundAll(summarize(exit), 2),
    spawnToExitMs: roundAll(summarize(lifecycle), 2),
    versionCommandSpawnToExitMs: roundAll(summarize(version), 2),
    samplesMs: toInit.map((v) => round(v, 2)),
  };
}

async function idleRss() {
  const samples = [];
  for (let i = 0; i < RSS_SAMPLES; i++) {
    await withServer(async (s) => {
      await s.initialize();
      await sleep(1000);
      samples.push(s.procStatus());
      await s.stop();
    });
  }
  const rss = samples.map((x) => x.vmRssKb);
  return {
    vmRssKb: roundAll(summarize(rss), 0),
    vmHwmKbMedian: percentile(samples.map((x) => x.vmHwmKb).sort((a, b) => a - b), 0.5),
    threadsMedian: percentile(samples.map((x) => x.threads).sort((a, b) => a - b), 0.5),
    samples,
  };
}

/** `n` sequential requests; returns per-request latencies in microseconds. */
async function sequential(server, method, params, n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await server.request(method, params);
    out[i] = nsToUs(process.hrtime.bigint() - t);
  }
  return out;
}

async function roundTrips() {
  return withServer(async (s) => {
    await s.initialize();
    const result = {};
    for (const method of ['orchestrator/stats', 'orchestrator/tools/list']) {
      await sequential(s, method, {}, WARMUP);
      const replyBytes = Buffer.byteLength(JSON.stringify(await s.request(method, {})));
      const t = process.hrtime.bigint();
      const lat = await sequential(s, method, {}, REQUESTS);
      const wallMs = nsToMs(process.hrtime.bigint() - t);
      result[method] = {
        latencyUs: roundAll(summarize(lat), 1),
        requestsPerSecond: round(REQUESTS / (wallMs / 1000), 0),
        replyResultBytes: replyBytes,
      };
    }
    const after = s.procStatus();
    await s.stop();
    result.serverAfter = after;
    return result;
  });
}

async function delegations() {
  return withServer(async (s) => {
    const completedAt = new Map(); // taskId -> hrtime of its task.completed event
    const waiting = new Map(); // taskId -> resolve
    let events = 0;
    let dropped = 0;
    let lastSeq = 0;
    let seqViolations = 0;
    s.conn.onNotification('orchestrator/event', (e) => {
      events++;
      if (!(e.seq > lastSeq)) seqViolations++;
      lastSeq = e.seq;
      if (e.type === 'task.completed' || e.type === 'task.failed') {
        const id = e.data?.taskId;
        completedAt.set(id, { t: process.hrtime.bigint(), type: e.type });
        waiting.get(id)?.();
        waiting.delete(id);
      }
    });
    s.conn.onNotification('orchestrator/eventsDropped', (p) => {
      dropped += p?.dropped ?? 0;
    });
    await s.initialize({ backend: 'scripted' });
    const params = (i) => ({ agent: 'builder', description: `bench ${i}`, prompt: `bench task ${i}` });

    // Reply latency: each delegate is awaited before the next is sent; tasks finish in the background.
    const replyUs = [];
    const ids = [];
    for (let i = 0; i < DELEGATES; i++) {
      const t = process.hrtime.bigint();
      const r = await s.request('orchestrator/task/delegate', params(i));
      replyUs.push(nsToUs(process.hrtime.bigint() - t));
      ids.push(r.task.id);
    }
    // Let the background tasks drain before the next series.
    const drainStart = process.hrtime.bigint();
    await within(
      Promise.all(ids.filter((id) => !completedAt.has(id)).map((id) => new Promise((res) => waiting.set(id, res)))),
      60_000,
      'background tasks to finish',
    );
    const drainMs = nsToMs(process.hrtime.bigint() - drainStart);

    // End to end: delegate, then wait for that task's task.completed notification, then the next.
    const endToEndUs = [];
    for (let i = 0; i < DELEGATES; i++) {
      const t = process.hrtime.bigint();
      const r = await s.request('orchestrator/task/delegate', params(DELEGATES + i));
      const id = r.task.id;
      if (!completedAt.has(id)) {
        await within(new Promise((res) => waiting.set(id, res)), REPLY_TIMEOUT_MS, `task.completed of ${id}`);
      }
      endToEndUs.push(nsToUs(completedAt.get(id).t - t));
    }
    const stats = await s.request('orchestrator/stats', {});
    const failed = [...completedAt.values()].filter((c) => c.type !== 'task.completed').length;
    const after = s.procStatus();
    await s.stop();
    return {
      delegateReplyUs: roundAll(summarize(replyUs), 1),
      drainAfterReplySeriesMs: round(drainMs, 1),
      delegateToCompletedEventUs: roundAll(summarize(endToEndUs), 1),
      eventsReceived: events,
      eventsDropped: dropped,
      seqOrderViolations: seqViolations,
      tasksFailed: failed,
      tasksByStatus: stats?.ledger?.tasksByStatus ?? null,
      serverAfter: after,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Report

function jsonrpcVersion() {
  try {
    const require = createRequire(import.meta.url);
    return require('vscode-jsonrpc/package.json').version;
  } catch {
    return null;
  }
}

function table(rows, header) {
  const all = [header, ...rows].map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

async function main() {
  const binStat = statSync(BIN);
  const summary = {
    binary: BIN,
    binaryBytes: binStat.size,
    binaryModified: binStat.mtime.toISOString(),
    startedAt: new Date().toISOString(),
    node: process.version,
    vscodeJsonrpc: jsonrpcVersion(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memMb: Math.round(totalmem() / 2 ** 20), loadavgAtStart: loadavg().map((v) => round(v, 2)) },
    settings: { spawns: SPAWNS, rssSamples: RSS_SAMPLES, warmup: WARMUP, requests: REQUESTS, delegates: DELEGATES },
  };

  if (SPAWNS > 0) {
    log(`(a) cold start: ${SPAWNS} spawns...`);
    summary.coldStart = await coldStart();
  }
  if (RSS_SAMPLES > 0) {
    log(`(b) idle RSS: ${RSS_SAMPLES} servers, 1 s idle each...`);
    summary.idleRss = await idleRss();
  }
  if (REQUESTS > 0) {
    log(`(c) round trips: ${WARMUP} warm-up + ${REQUESTS} sequential requests per method...`);
    summary.roundTrip = await roundTrips();
  }
  if (DELEGATES > 0) {
    log(`(d) delegation: ${DELEGATES} sequential delegate replies, then ${DELEGATES} delegate->completed...`);
    summary.delegate = await delegations();
  }
  summary.loadavgAtEnd = loadavg().map((v) => round(v, 2));

  const rows = [];
  if (summary.coldStart) {
    const c = summary.coldStart.spawnToInitializeMs;
    rows.push(['cold start: spawn -> initialize reply (ms)', c.n, c.p50, c.p90, null, c.max]);
    const sd = summary.coldStart.shutdownReplyMs;
    rows.push(['  then shutdown reply (ms)', sd.n, sd.p50, sd.p90, null, sd.max]);
    const ex = summary.coldStart.exitToProcessEndMs;
    rows.push(['  then exit -> process end (ms)', ex.n, ex.p50, ex.p90, null, ex.max]);
    const l = summary.coldStart.spawnToExitMs;
    rows.push(['cold start: spawn -> exit 0, full lifecycle (ms)', l.n, l.p50, l.p90, null, l.max]);
    const v = summary.coldStart.versionCommandSpawnToExitMs;
    rows.push(['baseline: `version` command spawn -> exit (ms)', v.n, v.p50, v.p90, null, v.max]);
  }
  if (summary.idleRss) {
    const r = summary.idleRss.vmRssKb;
    rows.push(['idle VmRSS after init + 1 s (kB)', r.n, r.p50, null, null, r.max]);
  }
  if (summary.roundTrip) {
    for (const m of ['orchestrator/stats', 'orchestrator/tools/list']) {
      const s = summary.roundTrip[m].latencyUs;
      rows.push([`${m} round trip (us)`, s.n, s.p50, s.p90, s.p99, s.max]);
    }
  }
  if (summary.delegate) {
    const d = summary.delegate.delegateReplyUs;
    rows.push(['task/delegate reply (us)', d.n, d.p50, d.p90, d.p99, d.max]);
    const e = summary.delegate.delegateToCompletedEventUs;
    rows.push(['task/delegate -> task.completed event (us)', e.n, e.p50, e.p90, e.p99, e.max]);
  }
  console.log(table(rows, ['measurement', 'n', 'p50', 'p90', 'p99', 'max']));
  if (summary.roundTrip) {
    const rt = summary.roundTrip;
    console.log(
      `throughput (sequential): stats ${rt['orchestrator/stats'].requestsPerSecond} req/s, ` +
        `tools/list ${rt['orchestrator/tools/list'].requestsPerSecond} req/s ` +
        `(reply result ${rt['orchestrator/stats'].replyResultBytes} B / ${rt['orchestrator/tools/list'].replyResultBytes} B)`,
    );
  }
  if (summary.idleRss) {
    console.log(`idle server: median VmHWM ${summary.idleRss.vmHwmKbMedian} kB, ${summary.idleRss.threadsMedian} threads`);
  }
  console.log('');
  console.log(JSON.stringify(summary, null, 2));
  if (opts.json) writeFileSync(opts.json, JSON.stringify(summary, null, 2) + '\n');
}

main().catch((e) => {
  console.error(`benchmark failed: ${e?.stack ?? e}`);
  killAll();
  process.exit(1);
});
