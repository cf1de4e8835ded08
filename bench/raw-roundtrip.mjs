// Round trips with a minimal hand-written LSP-framed client, to separate the server's latency
// from vscode-jsonrpc's. Also measures the pipe floor: the same frame echoed by `cat`.
// Usage: node raw-roundtrip.mjs [binary] [requests]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.argv[2] ?? process.env.OPENCODE_ORCHESTRATOR_BIN ?? join(here, '../target/release/opencode-orchestrator');
const n = Number(process.argv[3] ?? 5000);

function framedPeer(child) {
  let buf = Buffer.alloc(0);
  let waiter = null;
  child.stdout.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString())[1]);
      if (buf.length < end + 4 + len) return;
      const body = buf.subarray(end + 4, end + 4 + len);
      buf = buf.subarray(end + 4 + len);
      if (waiter) {
        const w = waiter;
        waiter = null;
        w(body);
      }
    }
  });
  return (text) =>
    new Promise((resolve) => {
      waiter = resolve;
      child.stdin.write(`Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    });
}

function percentiles(us) {
  us.sort((a, b) => a - b);
  const at = (p) => us[Math.min(us.length - 1, Math.floor(us.length * p))].toFixed(1);
  return `p50 ${at(0.5)}  p90 ${at(0.9)}  p99 ${at(0.99)}`;
}

async function series(roundTrip, make) {
  for (let i = 0; i < 200; i++) await roundTrip(make(i));
  const us = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await roundTrip(make(i));
    us.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return percentiles(us);
}

const ws = mkdtempSync(join(tmpdir(), 'oo-raw-'));
const server = spawn(bin, ['serve', '--standalone', '--log-file', join(ws, 'log')], {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: { ...process.env, XDG_CONFIG_HOME: ws },
});
const rpc = framedPeer(server);
let id = 0;
const req = (method, params) => JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params });
await rpc(req('initialize', { capabilities: {}, initializationOptions: { workspaceRoot: ws } }));
console.log(`raw client, ${n} sequential requests (us)`);
const list = await series(rpc, () => req('orchestrator/tools/list', {}));
console.log(`  orchestrator/tools/list  ${list}`);
const stats = await series(rpc, () => req('orchestrator/stats', {}));
console.log(`  orchestrator/stats       ${stats}`);
await rpc(req('shutdown', null));
server.stdin.write('Content-Length: 33\r\n\r\n{"jsonrpc":"2.0","method":"exit"}');
await new Promise((r) => server.on('exit', r));
rmSync(ws, { recursive: true, force: true });

// The floor: Node writing a 3 KB frame to `cat` and reading it back.
const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
const echo = framedPeer(cat);
const big = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { pad: 'x'.repeat(3000) } });
console.log(`  pipe floor (cat, 3 KB)   ${await series(echo, () => big)}`);
cat.stdin.end();
