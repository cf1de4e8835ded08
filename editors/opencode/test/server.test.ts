// The server supervisor against the real binary: initialize, requests, stop, crash and restart.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { ServerStoppedError, OrchestratorServer, type ServerOptions } from "../src/server.js";
import { RpcError } from "../src/rpc.js";
import { isolatedEnv, recordingLogger, scriptedConfig, script, serverBin, silentLogger, tempWorkspace, waitUntil } from "./helpers.js";

const servers: OrchestratorServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

function makeServer(extra: Partial<ServerOptions> = {}, config: Record<string, unknown> = {}): OrchestratorServer {
  const ws = tempWorkspace();
  const s = new OrchestratorServer({
    bin: serverBin(),
    args: ["serve", "--standalone"],
    cwd: ws,
    env: isolatedEnv(ws),
    initializationOptions: { workspaceRoot: ws, clientName: "opencode-plugin", bridge: false, config: scriptedConfig(ws, config) },
    logger: silentLogger,
    restartBackoffMs: 20,
    ...extra,
  });
  servers.push(s);
  return s;
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("OrchestratorServer", () => {
  test("initializes with the scripted runtime and answers requests", async () => {
    const s = makeServer();
    const init = (await s.start()) as { capabilities: { experimental: { orchestrator: { protocolVersion: number; tools: string[] } } }; serverInfo: { name: string } };
    assert.equal(init.serverInfo.name, "opencode-orchestrator");
    assert.equal(init.capabilities.experimental.orchestrator.protocolVersion, 1);
    assert.ok(init.capabilities.experimental.orchestrator.tools.includes("delegate_task"));
    const stats = await s.request<{ backend: string; client: { name: string } }>("orchestrator/stats", {});
    assert.equal(stats.backend, "scripted");
    assert.equal(stats.client.name, "opencode-plugin");
    await assert.rejects(s.request("orchestrator/agents/list", { nope: 1 }), (e: unknown) => e instanceof RpcError && e.code === -32602);
  });

  test("stop() sends shutdown and exit; the process ends", async () => {
    const s = makeServer();
    await s.start();
    const pid = s.pid;
    assert.ok(alive(pid));
    const t0 = Date.now();
    await s.stop();
    assert.ok(Date.now() - t0 < 2000, "exited on its own, no kill needed");
    assert.equal(s.status, "stopped");
    await waitUntil(() => !alive(pid), "the server process to end");
    await assert.rejects(s.request("orchestrator/stats", {}), ServerStoppedError);
  });

  test("a bad config fails start() with the server's message", async () => {
    const s = makeServer({}, { scheduler: { maxPerAgent: 0 } });
    await assert.rejects(s.start(), /maxPerAgent/);
    assert.equal(s.status, "failed");
    assert.match(s.failureMessage ?? "", /could not start/);
  });

  test("a missing binary fails start()", async () => {
    const s = makeServer({ bin: "/nonexistent/opencode-orchestrator" });
    await assert.rejects(s.start(), /ENOENT|could not/);
    assert.equal(s.status, "failed");
  });

  test("a killed server is restarted and re-initialized; waiting requests get a clear error", async () => {
    const restarts: Array<{ ok: boolean; message: string }> = [];
    let readies = 0;
    const log = recordingLogger();
    const s = makeServer({
      logger: log,
      onRestart: (i) => restarts.push(i),
      onReady: () => {
        readies++;
      },
    });
    await s.start();
    assert.equal(readies, 1);
    const first = s.pid;
    // a request that waits on the server when it dies
    const hang = await s.request<{ task: { id: string } }>("orchestrator/task/delegate", {
      agent: "builder",
      description: "hangs",
      prompt: script({ hang: true }),
    });
    const waiting = s.request("orchestrator/task/get", { taskId: hang.task.id, waitMs: 20_000 });
    await new Promise((r) => setTimeout(r, 100));
    process.kill(first as number, "SIGKILL");
    await assert.rejects(waiting, (e: unknown) => e instanceof ServerStoppedError && /killed by SIGKILL.*being restarted/.test(e.message));
    await s.whenReady();
    assert.notEqual(s.pid, first);
    assert.equal(readies, 2);
    assert.equal(s.restarts, 1);
    assert.deepEqual(restarts.map((r) => r.ok), [true]);
    // the new process is initialized: the ledger survived, the old task can be read
    const got = await s.request<{ task: { id: string; status: string } }>("orchestrator/task/get", { taskId: hang.task.id });
    assert.equal(got.task.id, hang.task.id);
    assert.ok(log.lines.some((l) => /restarting it/.test(l)));
  });

  test("gives up after too many restarts in a minute", async () => {
    const restarts: Array<{ ok: boolean; message: string }> = [];
    const s = makeServer({ maxRestartsPerMinute: 1, onRestart: (i) => restarts.push(i) });
    await s.start();
    process.kill(s.pid as number, "SIGKILL");
    await waitUntil(() => restarts.length === 1, "the first restart");
    await s.whenReady();
    process.kill(s.pid as number, "SIGKILL");
    await waitUntil(() => restarts.length === 2, "giving up");
    assert.deepEqual(restarts.map((r) => r.ok), [true, false]);
    assert.equal(s.status, "failed");
    await assert.rejects(s.request("orchestrator/stats", {}), /not restarted again/);
  });
});
