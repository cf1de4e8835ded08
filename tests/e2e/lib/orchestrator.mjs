// A test client for the orchestrator server: spawns `opencode-orchestrator serve`, speaks
// LSP-framed JSON-RPC to it, records its events, and can act as the OpenCode plugin's bridge.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ORCHESTRATOR_BIN =
  process.env.OPENCODE_ORCHESTRATOR_BIN ?? path.resolve(here, "../../../target/debug/opencode-orchestrator");

export async function startOrchestrator({
  workspaceRoot,
  opencodeUrl,
  config = {},
  bridge, // optional: (op, params) => Promise<result>, makes this client the OpenCode bridge
  env = {},
  standalone = true, // false: `serve` connects to (or starts) the workspace's daemon
} = {}) {
  const home = mkdtempSync(path.join(tmpdir(), "oo-e2e-orch-"));
  const args = standalone ? ["serve", "--standalone"] : ["serve"];
  const child = spawn(ORCHESTRATOR_BIN, [...args, "--log-file", path.join(home, "server.log")], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, XDG_CONFIG_HOME: home, RUST_LOG: "opencode_orchestrator=debug", ...env },
  });
  let buf = Buffer.alloc(0);
  let nextId = 1;
  const pending = new Map();
  const events = [];
  const waiters = new Set();
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));

  const send = (msg) => {
    const body = JSON.stringify(msg);
    child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };
  const onMessage = async (msg) => {
    if (msg.method === "orchestrator/event") {
      events.push({ ...msg.params, receivedAt: Date.now() });
      for (const w of [...waiters]) w();
      return;
    }
    if (msg.method && msg.id !== undefined) {
      // A request from the server: the bridge.
      if (msg.method === "orchestrator/opencode/call" && bridge) {
        try {
          send({ jsonrpc: "2.0", id: msg.id, result: (await bridge(msg.params.op, msg.params.params)) ?? null });
        } catch (e) {
          send({ jsonrpc: "2.0", id: msg.id, error: { code: -32000, message: String(e?.message ?? e), data: { status: e?.status } } });
        }
      } else {
        send({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: `not handled: ${msg.method}` } });
      }
      return;
    }
    if (msg.id !== undefined && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) {
        const err = new Error(msg.error.message);
        err.code = msg.error.code;
        err.data = msg.error.data;
        reject(err);
      } else resolve(msg.result);
    }
  };
  child.stdout.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = Number(/content-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString())?.[1]);
      if (buf.length < end + 4 + len) return;
      const body = buf.subarray(end + 4, end + 4 + len).toString();
      buf = buf.subarray(end + 4 + len);
      onMessage(JSON.parse(body));
    }
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));

  const request = (method, params, timeoutMs = 60000) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${method}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      send({ jsonrpc: "2.0", id, method, params });
    });
  const notify = (method, params) => send({ jsonrpc: "2.0", method, params });

  const waitForEvent = (pred, { timeoutMs = 60000, from = 0 } = {}) =>
    new Promise((resolve, reject) => {
      let i = from;
      const check = () => {
        for (; i < events.length; i++) {
          if (pred(events[i])) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(events[i]);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching orchestrator event within ${timeoutMs} ms; last: ${JSON.stringify(events.slice(-5))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  const init = await request("initialize", {
    processId: process.pid,
    capabilities: {},
    initializationOptions: { workspaceRoot, opencodeUrl, clientName: "e2e", config, bridge: Boolean(bridge) },
  });
  notify("initialized", {});

  const tool = (name, args, context = {}) =>
    request("orchestrator/tools/call", { name, arguments: args, context });

  return {
    child,
    init,
    events,
    request,
    notify,
    tool,
    waitForEvent,
    taskEvent: (type, taskId, opts) => waitForEvent((e) => e.type === type && e.data?.taskId === taskId, opts),
    stderr: () => stderr,
    home,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      try {
        await request("shutdown", null, 5000);
        notify("exit", null);
      } catch {
        child.kill("SIGKILL");
      }
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
    kill() {
      child.kill("SIGKILL");
      return exited;
    },
  };
}

/// The agents the orchestrator serves, as OpenCode config (`cfg.agent`).
export async function agentConfig() {
  const dir = mkdtempSync(path.join(tmpdir(), "oo-e2e-agents-"));
  const orch = await startOrchestrator({ workspaceRoot: dir, config: { backend: "scripted" } });
  const { agents } = await orch.request("orchestrator/agents/list", {});
  await orch.stop();
  const cfg = {};
  for (const { name, displayName: _d, ...rest } of agents) cfg[name] = rest;
  return cfg;
}
