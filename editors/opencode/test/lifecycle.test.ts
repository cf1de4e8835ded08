// Stopping the server: shutdown + exit, a kill for a server that ignores them, and the exit hooks
// when the host process (OpenCode) ends.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";

import { OrchestratorServer } from "../src/server.js";
import { isolatedEnv, serverBin, silentLogger, tempWorkspace, waitUntil } from "./helpers.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs fixtures/host.js; resolves with the server's pid once the plugin is up. */
async function host(mode: "wait" | "exit") {
  const ws = tempWorkspace();
  const pidFile = path.join(ws, "server.pid");
  const child = spawn(process.execPath, [path.join(fixtures, "host.js")], {
    env: { ...isolatedEnv(ws), HOST_WORKSPACE: ws, HOST_BIN: serverBin(), HOST_PID_FILE: pidFile, HOST_MODE: mode },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  await waitUntil(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").length > 0, `the host's server pid (${stderr})`);
  const serverPid = Number(fs.readFileSync(pidFile, "utf8"));
  return { child, exited, serverPid, output: () => stdout + stderr };
}

describe("stopping", () => {
  test("a server that ignores shutdown and exit is killed after the grace time", async () => {
    const ws = tempWorkspace();
    const s = new OrchestratorServer({
      bin: process.execPath,
      args: [path.join(fixtures, "stuck-server.js")],
      cwd: ws,
      initializationOptions: {},
      logger: silentLogger,
    });
    await s.start();
    const pid = s.pid as number;
    const t0 = Date.now();
    await s.stop(300);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 1500, `stopped in ${took} ms`);
    await waitUntil(() => !alive(pid), "the stuck server to die");
  });

  test("SIGTERM to OpenCode stops the server, then OpenCode ends by the signal", async () => {
    const h = await host("wait");
    assert.ok(alive(h.serverPid));
    h.child.kill("SIGTERM");
    const end = await h.exited;
    assert.equal(end.signal, "SIGTERM", h.output());
    await waitUntil(() => !alive(h.serverPid), "the server to end");
    assert.equal(h.output(), "", "nothing written to stdout or stderr");
  });

  test("SIGINT likewise", async () => {
    const h = await host("wait");
    h.child.kill("SIGINT");
    assert.equal((await h.exited).signal, "SIGINT");
    await waitUntil(() => !alive(h.serverPid), "the server to end");
  });

  test("process.exit() in OpenCode: the server is told to exit", async () => {
    const h = await host("exit");
    assert.equal((await h.exited).code, 0);
    await waitUntil(() => !alive(h.serverPid), "the server to end", 5000);
  });
});
