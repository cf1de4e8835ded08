// The OpenCode plugin (editors/opencode/dist/index.js) loaded by a real OpenCode: tools, agents
// and /task registered; delegation driven by the model itself, over HTTP under `serve` and
// through the plugin bridge under `run`. The model is the only fake.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { startFakeModel, lastUserText, toolResults, systemText, hasTool } from "./lib/fake-model.mjs";
import { startOpencodeServe, runOpencode, createSession, sessionMessages, waitUntil } from "./lib/opencode.mjs";
import { ORCHESTRATOR_BIN } from "./lib/orchestrator.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const PLUGIN = path.resolve(here, "../../editors/opencode/dist/index.js");
const plugins = [[PLUGIN, { bin: ORCHESTRATOR_BIN }]];

let model;
let oc;

before(async () => {
  assert.ok(existsSync(PLUGIN), `build the plugin first: (cd editors/opencode && npm ci && npm run build)`);
  model = await startFakeModel();
  oc = await startOpencodeServe({ modelPort: model.port, plugins });
});

after(async () => {
  await oc?.stop();
  await model?.close();
  // The plugin connects to each project's shared daemon, which outlives OpenCode until it is
  // idle; these projects are gone, so stop theirs now.
  spawnSync("pkill", ["-f", `${ORCHESTRATOR_BIN} daemon --workspace`]);
});

test("the plugin registers the tools, the seven agents and /task", { timeout: 60_000 }, async () => {
  const agents = (await oc.client.app.agents()).data.map((a) => a.name);
  for (const name of ["commander", "architect", "builder", "inspector", "recorder", "librarian", "researcher"]) {
    assert.ok(agents.includes(name), `agent ${name} in ${agents}`);
  }
  const commands = (await oc.client.command.list()).data.map((c) => c.name);
  assert.ok(commands.includes("task"), `/task in ${commands}`);
  // The model sees the orchestrator's tools.
  const session = await createSession(oc.client, { title: "tools" });
  model.once("which tools?", { text: "these" });
  await oc.client.session.promptAsync({ path: { id: session.id }, body: { parts: [{ type: "text", text: "which tools?" }] } });
  const req = await model.waitForRequest((b) => lastUserText(b) === "which tools?");
  for (const t of ["delegate_task", "get_task_result", "list_tasks", "cancel_task"]) assert.ok(hasTool(req.body, t), t);
});

test("the model delegates in the background and is woken with the result (serve, HTTP)", { timeout: 90_000 }, async () => {
  const parent = await createSession(oc.client, { title: "mission" });
  model.on((b) => lastUserText(b) === "look up the docs" && toolResults(b).length === 0, {
    toolCalls: [{ name: "delegate_task", arguments: { agent: "librarian", description: "find the docs", prompt: "find the serde docs" } }],
  });
  model.on((b) => lastUserText(b) === "look up the docs" && toolResults(b).length > 0, { text: "waiting for the librarian" });
  model.on((b) => lastUserText(b) === "find the serde docs", { text: "serde docs: use derive" });
  model.on((b) => lastUserText(b).includes("[opencode-orchestrator]"), { text: "all done" });

  await oc.client.session.promptAsync({
    path: { id: parent.id },
    body: { parts: [{ type: "text", text: "look up the docs" }] },
  });
  // The tool answered with a task id at once.
  const afterTool = await model.waitForRequest((b) => lastUserText(b) === "look up the docs" && toolResults(b).length > 0);
  assert.match(toolResults(afterTool.body)[0].content, /queued for librarian/);
  // The child ran as the Librarian, under the parent.
  const child = await model.waitForRequest((b) => lastUserText(b) === "find the serde docs");
  assert.match(systemText(child.body), /Librarian/);
  const children = (await oc.client.session.children({ path: { id: parent.id } })).data;
  assert.equal(children.length, 1);
  // The parent's model is woken with the result and answers.
  const woken = await model.waitForRequest((b) => lastUserText(b).includes("[opencode-orchestrator]"), { timeoutMs: 60_000 });
  assert.match(lastUserText(woken.body), /serde docs: use derive/);
  await waitUntil(async () => {
    const msgs = await sessionMessages(oc.client, parent.id);
    return msgs.some((m) => m.info.role === "assistant" && m.parts.some((p) => p.text === "all done"));
  }, { what: "the parent answered after being woken", timeoutMs: 30_000 });
});

test("sync delegation under `opencode run` goes through the plugin bridge", { timeout: 120_000 }, async () => {
  model.on((b) => lastUserText(b) === "do it synchronously" && toolResults(b).length === 0, {
    toolCalls: [{ name: "delegate_task", arguments: { agent: "builder", description: "sync child", prompt: "sync child work", background: false } }],
  });
  model.on((b) => lastUserText(b) === "do it synchronously" && toolResults(b).length > 0, (b) => ({
    text: `final: ${toolResults(b)[0].content.includes("child result 7") ? "got child result 7" : "missing"}`,
  }));
  model.on((b) => lastUserText(b) === "sync child work", { text: "child result 7", delayMs: 200 });
  const r = await runOpencode({ prompt: "do it synchronously", modelPort: model.port, plugins, timeoutMs: 100_000 });
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr.slice(-3000)}`);
  assert.match(r.stdout, /final: got child result 7/);
});

test("/task runs the mission with the Commander", { timeout: 90_000 }, async () => {
  model.on((b) => lastUserText(b).includes("Add dark mode to the app"), { text: "mission accepted" });
  const r = await runOpencode({
    prompt: "Add dark mode to the app",
    args: ["--command", "task"],
    modelPort: model.port,
    plugins,
    timeoutMs: 80_000,
  });
  assert.equal(r.code, 0, `stderr: ${r.stderr.slice(-3000)}`);
  const req = model.requests.find((e) => !e.isTitle && lastUserText(e.body).includes("Add dark mode to the app"));
  assert.ok(req, "the mission reached the model");
  assert.match(systemText(req.body), /Commander/);
});
