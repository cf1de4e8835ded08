// Run Mission from VS Code with a real OpenCode: the extension's command goes to the
// workspace's shared daemon, which starts `opencode serve` (npm opencode-ai, from the e2e
// harness) because VS Code brings none; the OpenCode plugin inside it joins the same daemon;
// the model is the e2e harness's scripted one. Skipped when the e2e harness is not installed.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";

import { activate, findNode, renderTree, serverBin, treeText, waitUntil, type Activated } from "./helpers";
import { commands, stub } from "./vscode-stub";

const REPO = path.resolve(__dirname, "..", "..", "..", "..");
const E2E = path.join(REPO, "tests", "e2e");
const OPENCODE_BIN = path.join(E2E, "node_modules", "opencode-ai", "bin", "opencode.exe");
const PLUGIN = path.join(REPO, "editors", "opencode", "dist", "index.js");
const MARK = "[opencode-orchestrator]";

interface Body {
  messages?: Array<{ role: string; content?: unknown; tool_calls?: Array<{ function?: { name?: string } }> }>;
}
interface FakeModel {
  port: number;
  setDefault(responder: (body: Body) => unknown): void;
  close(): Promise<void>;
}
interface Harness {
  startFakeModel(): Promise<FakeModel>;
  lastUserText(body: Body): string;
  systemText(body: Body): string;
}
interface Prepared {
  dir: string;
  env: Record<string, string>;
}
interface OpencodeLib {
  prepare(o: { modelPort: number; plugins: unknown[]; files: Record<string, string> }): Promise<Prepared>;
}

let model: FakeModel | undefined;
let activated: Activated | undefined;
after(async () => {
  await activated?.close();
  await model?.close();
});

function turnCalls(body: Body): string[] {
  const msgs = body.messages ?? [];
  let i = msgs.length - 1;
  while (i >= 0 && msgs[i]?.role !== "user") i--;
  return msgs
    .slice(i + 1)
    .flatMap((m) => (m.role === "assistant" ? (m.tool_calls ?? []).map((c) => c.function?.name ?? "") : []));
}

const ready = fs.existsSync(OPENCODE_BIN) && fs.existsSync(PLUGIN);

test(
  "Run Mission goes through the shared daemon to an OpenCode it starts, and the tree shows the mission's tasks",
  { skip: ready ? false : "the e2e harness (tests/e2e: npm ci) or the plugin build is missing", timeout: 180_000 },
  async () => {
    const fake = (await import(pathToFileURL(path.join(E2E, "lib", "fake-model.mjs")).href)) as Harness;
    const oc = (await import(pathToFileURL(path.join(E2E, "lib", "opencode.mjs")).href)) as OpencodeLib;
    model = await fake.startFakeModel();
    model.setDefault((body) => {
      const text = fake.lastUserText(body);
      const system = fake.systemText(body);
      const calls = turnCalls(body);
      if (/^# Commander\b/m.test(system) && text.includes(`${MARK} Mission msn_`) && !text.includes("is complete")) {
        if (calls.length === 0) return { toolCalls: [{ name: "mission_triage", arguments: { level: "L1", reason: "small" } }] };
        if (calls.at(-1) === "mission_triage") return { toolCalls: [{ name: "mission_complete", arguments: { summary: "done" } }] };
        return { text: "Waiting for the Inspector." };
      }
      if (/^# Inspector\b/m.test(system) && text.includes("Verify mission")) {
        if (calls.length === 0) return { toolCalls: [{ name: "mission_verdict", arguments: { verdict: "pass", evidence: "checked" } }] };
        return { text: "VERDICT: PASS" };
      }
      return { text: "ok" };
    });
    const prep = await oc.prepare({
      modelPort: model.port,
      plugins: [[PLUGIN, { bin: serverBin() }]],
      files: {
        ".opencode/orchestrator.json": JSON.stringify({
          opencode: { bin: OPENCODE_BIN },
          daemon: { idleSeconds: 2 },
          missions: { continueDelayMs: 300 },
        }),
      },
    });
    // The server the extension starts, the daemon and the OpenCode it starts inherit this
    // environment: isolated, offline, with the fake model as OpenCode's provider.
    const run = fs.mkdtempSync(path.join(os.tmpdir(), "oc-orch-vscode-run-"));
    fs.chmodSync(run, 0o700);
    Object.assign(process.env, prep.env, { XDG_RUNTIME_DIR: run });

    activated = await activate({ "opencodeOrchestrator.standalone": false }, { folder: prep.dir });
    const a = activated;
    assert.equal(a.api.controller.state, "running", a.api.controller.lastError);
    stub.inputAnswers.push("Rename the module");
    const m = (await commands.executeCommand("opencodeOrchestrator.runMission")) as { missionId: string } | undefined;
    assert.ok(m, `the mission started (errors: ${stub.errors().join("; ")})`);
    await waitUntil(() => a.api.controller.model.mission(m.missionId)?.status === "completed", "the mission to complete", 120_000);
    // The tree shows it, with the Inspector's task; the plugin's connection shares the daemon.
    await waitUntil(async () => {
      const tree = await renderTree(a.treeView);
      const node = findNode(tree, /Rename the module/);
      return node !== undefined && /inspector/i.test(treeText(node.children));
    }, "the Inspector's task under the mission", 30_000);
    const stats = await a.api.controller.request<{ backend: string; eventSubscribers: number }>("orchestrator/stats", {});
    assert.match(stats.backend, /opencode-http/);
    assert.ok(stats.eventSubscribers >= 2, `the OpenCode plugin is a second client: ${stats.eventSubscribers}`);
    // The Inspector's last turn may still be under way: let it end while the model answers.
    await waitUntil(
      async () => (await a.api.controller.request<{ running: number; queued: number }>("orchestrator/stats", {})).running === 0,
      "the mission's tasks to end",
      60_000,
    );
    await a.close();
    activated = undefined;
    // Nothing is left behind: with no client, the daemon leaves and stops the OpenCode it started.
    await waitUntil(() => pgrep(`daemon --workspace ${prep.dir}`) === 0, "the daemon to leave", 30_000);
    await waitUntil(() => pgrep(`${OPENCODE_BIN} serve --port`, prep.dir) === 0, "its OpenCode to stop", 15_000);
  },
);

/** How many processes match `pattern`; with `cwd`, only those working in that directory. */
function pgrep(pattern: string, cwd?: string): number {
  let all: string[];
  try {
    all = execFileSync("pgrep", ["-f", pattern], { encoding: "utf8" }).trim().split(/\s+/).filter(Boolean);
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
  const real = cwd === undefined ? undefined : fs.realpathSync(cwd);
  return all.filter((pid) => {
    try {
      return real === undefined || fs.readlinkSync(`/proc/${pid}/cwd`) === real;
    } catch {
      return false; // gone meanwhile
    }
  }).length;
}
