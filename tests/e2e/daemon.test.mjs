// The per-workspace daemon with a real OpenCode: a client that brings no OpenCode (as VS Code
// without a server URL) gets one started by the daemon, and the plugin inside that OpenCode
// connects back to the same daemon, so the mission's tools reach the mission.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, chmodSync, readlinkSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

import { startFakeModel, lastUserText, systemText } from "./lib/fake-model.mjs";
import { prepare, waitUntil, OPENCODE_BIN } from "./lib/opencode.mjs";
import { ORCHESTRATOR_BIN, startOrchestrator } from "./lib/orchestrator.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const PLUGIN = path.resolve(here, "../../editors/opencode/dist/index.js");
const MARK = "[opencode-orchestrator]";

let model;
after(async () => {
  await model?.close();
});

/** Pids of processes matching `pattern`; with `cwd`, only those working in that directory. */
function pids(pattern, cwd) {
  let all;
  try {
    all = execFileSync("pgrep", ["-f", pattern], { encoding: "utf8" }).trim().split(/\s+/).filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  if (cwd === undefined) return all;
  const real = realpathSync(cwd);
  return all.filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`) === real;
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** This turn's tool calls: the assistant messages after the last user message. */
function turnCalls(body) {
  const msgs = body.messages ?? [];
  let i = msgs.length - 1;
  while (i >= 0 && msgs[i].role !== "user") i--;
  return msgs.slice(i + 1).filter((m) => m.role === "assistant" && Array.isArray(m.tool_calls)).flatMap((m) => m.tool_calls.map((c) => c.function?.name));
}

test("a daemon with no OpenCode starts one, and its plugin joins the same daemon", { timeout: 180_000 }, async () => {
  assert.ok(existsSync(PLUGIN), "build the plugin first: (cd editors/opencode && npm ci && npm run build)");
  model = await startFakeModel();
  const commanderTools = [];
  model.setDefault((body) => {
    const text = lastUserText(body);
    const system = systemText(body);
    const calls = turnCalls(body);
    if (/^# Commander\b/m.test(system) && text.includes(`${MARK} Mission msn_`) && !text.includes("is complete")) {
      commanderTools.push(...(body.tools ?? []).map((t) => t.function?.name));
      if (calls.length === 0) return { toolCalls: [{ name: "mission_triage", arguments: { level: "L1", reason: "small" } }] };
      if (calls.at(-1) === "mission_triage") return { toolCalls: [{ name: "mission_complete", arguments: { summary: "done directly" } }] };
      return { text: "Waiting for the Inspector." };
    }
    if (/^# Inspector\b/m.test(system) && text.includes("Verify mission")) {
      if (calls.length === 0) return { toolCalls: [{ name: "mission_verdict", arguments: { verdict: "pass", evidence: "checked" } }] };
      return { text: "VERDICT: PASS" };
    }
    if (text.includes("is complete:")) return { text: "All done." };
    return { text: "ok" };
  });
  const run = mkdtempSync(path.join(tmpdir(), "oo-e2e-run-"));
  chmodSync(run, 0o700);
  const prep = await prepare({
    modelPort: model.port,
    plugins: [[PLUGIN, { bin: ORCHESTRATOR_BIN }]],
    files: {
      ".opencode/orchestrator.json": JSON.stringify({
        opencode: { bin: OPENCODE_BIN },
        daemon: { idleSeconds: 2 },
        missions: { continueDelayMs: 300 },
      }),
    },
  });
  const env = { ...prep.env, XDG_RUNTIME_DIR: run };
  const daemonPattern = `${ORCHESTRATOR_BIN} daemon --workspace ${prep.dir}`;
  // Like VS Code without an OpenCode URL: no URL, no bridge.
  const client = await startOrchestrator({ workspaceRoot: prep.dir, standalone: false, env });
  try {
    assert.equal(pids(daemonPattern).length, 1, "one daemon");
    const started = await client.request("orchestrator/mission/start", { goal: "Rename the module" });
    const id = started.mission.missionId;
    const done = await client.waitForEvent((e) => e.type === "mission.completed" && e.data?.missionId === id, { timeoutMs: 120_000 });
    assert.equal(done.data.status, "completed");
    // The Commander's mission tools came from the plugin in the started OpenCode: they found
    // the mission, so that plugin's server is this daemon.
    for (const t of ["mission_triage", "mission_complete", "plan_dispatch"]) assert.ok(commanderTools.includes(t), t);
    const stats = await client.request("orchestrator/stats", {});
    assert.match(stats.backend, /opencode-http/);
    assert.ok(stats.eventSubscribers >= 2, `the plugin's connection is a second client: ${stats.eventSubscribers}`);
    const tasks = await client.request("orchestrator/task/list", {});
    assert.ok((tasks.tasks ?? []).some((t) => t.agent === "inspector"), JSON.stringify(tasks));
  } finally {
    await client.stop();
  }
  // No client but the started OpenCode's own plugin: the daemon leaves, and stops that OpenCode.
  await waitUntil(() => pids(daemonPattern).length === 0, { timeoutMs: 30_000, what: "the daemon to leave" });
  await waitUntil(() => pids(`${OPENCODE_BIN} serve --port`, prep.dir).length === 0, { timeoutMs: 15_000, what: "its OpenCode to stop" });
});
