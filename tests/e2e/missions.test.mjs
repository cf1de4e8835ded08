// Missions through a real OpenCode (`serve`, the plugin loaded, the orchestrator on OpenCode's
// HTTP API): `/task` in a session, the Commander, Architect, specialists and Inspector played by
// the scripted model. Mission state is read with `opencode-orchestrator missions`, which reads
// the ledger the plugin's server writes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { startFakeModel, lastUserText, systemText, contentText } from "./lib/fake-model.mjs";
import { startOpencodeServe, createSession, sessionMessages, waitUntil } from "./lib/opencode.mjs";
import { ORCHESTRATOR_BIN } from "./lib/orchestrator.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const PLUGIN = path.resolve(here, "../../editors/opencode/dist/index.js");
const MARK = "[opencode-orchestrator]";

let model;
let oc;
/** Scenarios by tag; every prompt of a mission carries its goal, and so its tag. */
const scenarios = new Map();

before(async () => {
  assert.ok(existsSync(PLUGIN), "build the plugin first: (cd editors/opencode && npm ci && npm run build)");
  model = await startFakeModel();
  model.setDefault(respond);
  const config = {
    missions: { continueDelayMs: 300, stagnationLimit: 2 },
    scheduler: { maxWaitMs: 2000 },
  };
  oc = await startOpencodeServe({ modelPort: model.port, plugins: [[PLUGIN, { bin: ORCHESTRATOR_BIN, config, standalone: true }]] });
});

after(async () => {
  await oc?.stop();
  await model?.close();
});

// ---------------------------------------------------------------------------------------------
// The scripted agents
// ---------------------------------------------------------------------------------------------

const AGENTS = ["Commander", "Architect", "Builder", "Inspector", "Recorder", "Librarian", "Researcher"];

function agentOf(body) {
  const system = systemText(body);
  return AGENTS.find((a) => new RegExp(`^# ${a}\\b`, "m").test(system))?.toLowerCase();
}

/** This turn's tool calls and results: the messages after the last user message. */
function turn(body) {
  const msgs = body.messages ?? [];
  let i = msgs.length - 1;
  while (i >= 0 && msgs[i].role !== "user") i--;
  const after = msgs.slice(i + 1);
  const calls = after
    .filter((m) => m.role === "assistant" && Array.isArray(m.tool_calls))
    .flatMap((m) => m.tool_calls.map((c) => c.function?.name));
  const results = after.filter((m) => m.role === "tool").map((m) => contentText(m.content));
  return { calls, last: calls.at(-1), results };
}

const call = (name, args, extra = {}) => ({ toolCalls: [{ name, arguments: args }], ...extra });

function respond(body) {
  const text = lastUserText(body);
  const sc = [...scenarios.values()].find((s) => text.includes(s.tag));
  const agent = agentOf(body);
  if (!sc) {
    if (text.includes("stopped this session's mission")) return { text: "Stopped, as asked." };
    return { text: "ok" };
  }
  sc.requests.push({ agent, text, time: Date.now() });
  const t = turn(body);
  if (agent === "commander") return commander(sc, text, t);
  if (agent === "architect") return t.calls.length === 0 ? call("plan_edit", { edits: sc.edits }) : { text: "Plan written." };
  if (agent === "inspector" && text.includes("Verify mission")) {
    const round = Number(/\(round (\d+)\)/.exec(text)?.[1] ?? 1);
    const v = sc.verdicts?.[round - 1] ?? { verdict: "pass" };
    if (t.calls.length === 0) {
      return call("mission_verdict", { verdict: v.verdict, evidence: `round ${round}: ${v.verdict === "pass" ? "cargo test ok" : "cargo test: 1 failed"}`, fixes: v.fixes ?? [] });
    }
    return { text: `VERDICT: ${v.verdict.toUpperCase()}` };
  }
  const item = /plan item `([^`]+)`/.exec(text)?.[1];
  if (item) {
    const spec = sc.items?.[item] ?? {};
    if (t.calls.length === 0) {
      return call("task_report", { summary: `${item} done`, filesChanged: spec.files ?? [] }, { delayMs: spec.delayMs ?? 0 });
    }
    return { text: `${item} done` };
  }
  return { text: "ok" };
}

function commander(sc, text, t) {
  if (text.includes(`${MARK} Mission: `)) {
    if (sc.stall) return { text: "Let me think about how to start." };
    if (t.calls.length === 0) return call("mission_triage", { level: sc.level, reason: "scripted" });
    if (t.last === "mission_triage") {
      if (sc.level === "L1") return call("mission_complete", { summary: "did it directly" });
      if (sc.viaArchitect) {
        return call("delegate_task", { agent: "architect", description: "plan the mission", prompt: `Plan ${sc.tag}: write the plan.`, background: false });
      }
      return call("plan_edit", { edits: sc.edits });
    }
    if (t.last === "delegate_task" || t.last === "plan_edit") return call("plan_dispatch", {});
    return { text: "Working on it; I will be woken when the work is done." };
  }
  if (text.includes("is not complete")) return sc.onContinue ? sc.onContinue(text) : { text: "Still waiting." };
  if (text.includes("is complete:")) return { text: `Done: ${sc.tag}` };
  return { text: "ok" };
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

let nextTag = 1;
function scenario(spec) {
  const tag = `[e2e-${nextTag++}]`;
  const sc = { tag, requests: [], ...spec };
  scenarios.set(tag, sc);
  return sc;
}

const item = (id, agent, dependsOn = [], parent) => ({ op: "add", id, title: `Do ${id}`, agent, ...(dependsOn.length ? { dependsOn } : {}), ...(parent ? { parent } : {}) });

function cli(...args) {
  return JSON.parse(execFileSync(ORCHESTRATOR_BIN, ["missions", "--workspace", oc.dir, "--json", ...args], { encoding: "utf8" }));
}

function missionOf(sc) {
  return cli().missions.find((m) => m.goal.includes(sc.tag));
}

async function waitForMission(sc, pred, what, timeoutMs = 60_000) {
  let last;
  await waitUntil(() => {
    last = missionOf(sc);
    return last && pred(last);
  }, { timeoutMs, intervalMs: 250, what: `${sc.tag} ${what} (last: ${JSON.stringify(last)})` });
  return cli(last.missionId);
}

async function startTask(sc, args = "") {
  const session = await createSession(oc.client, { title: sc.tag });
  oc.client.session
    .command({ path: { id: session.id }, body: { command: "task", arguments: `${args}${args ? " " : ""}Goal ${sc.tag}: ${sc.goal ?? "make it so"}` } })
    .catch(() => undefined);
  sc.session = session.id;
  return session;
}

/**
 * Pids of the orchestrator servers of this test's OpenCode (its process group), not anyone
 * else's (pgrep run directly: a shell would match itself).
 */
function serverPids() {
  try {
    return execFileSync("pgrep", ["-g", String(oc.pid), "-f", `${ORCHESTRATOR_BIN} serve`], { encoding: "utf8" }).trim().split(/\s+/).filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** Journal time of the first entry matching `pred`. */
function journalTime(journal, pred) {
  const e = journal.find(pred);
  assert.ok(e, "journal entry");
  return e.time;
}
const dispatchedAt = (j, id) => journalTime(j, (e) => e.kind === "dispatch" && e.data.items.some((i) => i.itemId === id));
const finishedAt = (j, id) => journalTime(j, (e) => e.kind === "item" && e.data.itemId === id);

async function assistantSaid(sessionId, pred) {
  await waitUntil(async () => {
    const msgs = await sessionMessages(oc.client, sessionId);
    return msgs.some((m) => m.info.role === "assistant" && m.parts.some((p) => typeof p.text === "string" && pred(p.text)));
  }, { timeoutMs: 30_000, what: "the Commander's answer" });
}

// ---------------------------------------------------------------------------------------------
// Missions
// ---------------------------------------------------------------------------------------------

test("an L1 mission completes once the Inspector passes it", { timeout: 120_000 }, async () => {
  const sc = scenario({ level: "L1" });
  await startTask(sc);
  const { mission, journal } = await waitForMission(sc, (m) => m.status === "completed", "completed");
  assert.equal(mission.level, "L1");
  assert.equal(mission.rounds.length, 1);
  assert.equal(mission.rounds[0].verdict, "pass");
  assert.ok(journal.some((e) => e.kind === "claim"));
  // The Commander was told, and answered the user.
  await assistantSaid(sc.session, (t) => t.includes(`Done: ${sc.tag}`));
  const inspector = sc.requests.find((r) => r.agent === "inspector");
  assert.match(inspector.text, /did it directly/);
});

test("an L2 mission: the Architect plans three items, two run in parallel", { timeout: 150_000 }, async () => {
  const sc = scenario({
    level: "L2",
    viaArchitect: true,
    edits: [item("css", "builder"), item("toggle", "builder"), item("docs", "recorder", ["css", "toggle"])],
    items: { css: { delayMs: 1500, files: ["theme.css"] }, toggle: { delayMs: 1500 }, docs: { delayMs: 100 } },
  });
  await startTask(sc);
  const { mission, journal } = await waitForMission(sc, (m) => m.status === "completed", "completed", 90_000);
  assert.deepEqual(mission.waves, [["css", "toggle"], ["docs"]]);
  assert.equal(mission.progress.done, 3);
  // css and toggle overlapped; docs started after both.
  assert.ok(dispatchedAt(journal, "toggle") < finishedAt(journal, "css"));
  assert.ok(dispatchedAt(journal, "css") < finishedAt(journal, "toggle"));
  assert.ok(dispatchedAt(journal, "docs") >= Math.max(finishedAt(journal, "css"), finishedAt(journal, "toggle")));
  // The Architect wrote the plan from its own child session.
  assert.ok(sc.requests.some((r) => r.agent === "architect"));
  // Token use as OpenCode reported it, per task and in all (the fake model reports usage).
  assert.ok(mission.spend.tokens > 0, JSON.stringify(mission.spend));
  // The architect and the three items at least; the Inspector's own task may still be ending
  // (its verdict completes the mission before its last turn does).
  assert.ok(mission.taskSpend.length >= 4 && mission.taskSpend.every((t) => t.inputTokens > 0), JSON.stringify(mission.taskSpend));
  assert.ok(mission.taskSpend.some((t) => !t.inMission), "the Architect's task (outside the plan) counts too");
  // The mission adopted the Architect's task, delegated from its session outside the plan.
  assert.deepEqual(
    mission.delegated.map((d) => [d.agent, d.running]),
    [["architect", false]],
  );
  const css = mission.context.find((c) => c.itemId === "css");
  assert.deepEqual(css.filesChanged, ["theme.css"]);
  assert.equal(css.reported, true);
  // The dependent item was handed its inputs' results.
  const docs = sc.requests.find((r) => r.text.includes("plan item `docs`"));
  assert.match(docs.text, /css done/);
  // OpenCode shows the items as child sessions of the mission's session.
  const children = (await oc.client.session.children({ path: { id: sc.session } })).data;
  assert.ok(children.length >= 5, `children: ${children.length}`); // architect, 3 items, inspector
});

test("an L3 mission: a 3-level plan of 10 leaves runs in dependency waves", { timeout: 240_000 }, async () => {
  const edits = [
    { op: "add", id: "research", title: "Research" },
    item("research.code", "researcher", [], "research"),
    item("research.docs", "librarian", [], "research"),
    { op: "add", id: "core", title: "Core", dependsOn: ["research"] },
    item("core.model", "builder", [], "core"),
    item("core.store", "builder", [], "core"),
    item("core.api", "builder", ["core.model", "core.store"], "core"),
    { op: "add", id: "ui", title: "UI", dependsOn: ["core.api"] },
    item("ui.theme", "builder", [], "ui"),
    item("ui.toggle", "builder", [], "ui"),
    item("ui.settings", "builder", ["ui.toggle"], "ui"),
    item("tests", "inspector", ["ui"]),
    item("notes", "recorder", ["tests"]),
  ];
  const items = Object.fromEntries(edits.filter((e) => e.agent).map((e) => [e.id, { delayMs: 700 }]));
  const sc = scenario({ level: "L3", edits, items });
  await startTask(sc);
  const { mission, journal } = await waitForMission(sc, (m) => m.status === "completed", "completed", 200_000);
  assert.equal(mission.progress.total, 10);
  assert.deepEqual(mission.waves, [
    ["research.code", "research.docs"],
    ["core.model", "core.store"],
    ["core.api"],
    ["ui.theme", "ui.toggle"],
    ["ui.settings"],
    ["tests"],
    ["notes"],
  ]);
  const leaves = edits.filter((e) => e.agent).map((e) => e.id);
  const wave = Object.fromEntries(mission.waves.flatMap((w, i) => w.map((id) => [id, i])));
  // Independent leaves of a wave overlapped in time.
  for (const w of mission.waves.filter((w) => w.length > 1)) {
    const [a, b] = w;
    assert.ok(dispatchedAt(journal, b) < finishedAt(journal, a), `${a} and ${b} overlapped`);
    assert.ok(dispatchedAt(journal, a) < finishedAt(journal, b), `${b} and ${a} overlapped`);
  }
  // No leaf started before everything it depends on (its own and its task's) had finished.
  const deps = {
    "core.model": ["research.code", "research.docs"],
    "core.store": ["research.code", "research.docs"],
    "core.api": ["core.model", "core.store"],
    "ui.theme": ["core.api"],
    "ui.toggle": ["core.api"],
    "ui.settings": ["ui.toggle", "core.api"],
    tests: ["ui.theme", "ui.toggle", "ui.settings"],
    notes: ["tests"],
  };
  for (const [leaf, before] of Object.entries(deps)) {
    for (const d of before) assert.ok(dispatchedAt(journal, leaf) >= finishedAt(journal, d), `${leaf} waited for ${d}`);
  }
  assert.equal(leaves.length, Object.keys(wave).length);
});

test("a stalling Commander is stopped by the breaker, with the reason shown", { timeout: 120_000 }, async () => {
  let n = 0;
  // A Commander that never gets going: every continuation makes no progress.
  const sc = scenario({ stall: true, onContinue: () => ({ text: `Thinking about it (${++n}).` }) });
  const origin = oc.events.length;
  await startTask(sc);
  const { mission } = await waitForMission(sc, (m) => m.status === "stopped", "stopped");
  assert.match(mission.reason, /loop breaker: no progress in the last 2 continuations/);
  const continuations = sc.requests.filter((r) => r.agent === "commander" && r.text.includes("is not complete"));
  assert.equal(continuations.length, 2);
  // The user is shown why (a toast in the TUI).
  await waitUntil(
    () => oc.events.slice(origin).some((e) => e.type === "tui.toast.show" && /Mission stopped: loop breaker/.test(e.properties?.message ?? "")),
    { timeoutMs: 10_000, what: "the stop toast" },
  );
});

test("a task budget stops the mission; the tasks it started finish", { timeout: 120_000 }, async () => {
  const sc = scenario({
    level: "L2",
    edits: [item("a", "builder"), item("b", "builder"), item("c", "builder")],
    items: { a: { delayMs: 1500 }, b: { delayMs: 1500 }, c: { delayMs: 100 } },
  });
  const origin = oc.events.length;
  await startTask(sc, "--max-tasks 2");
  const stopped = await waitForMission(sc, (m) => m.status === "stopped", "stopped");
  assert.match(stopped.mission.reason, /budget: the mission has started 2 tasks \(maxTasks\)/);
  assert.equal(stopped.mission.budgets.maxTasks, 2);
  // a and b were within the budget: they finish; c never starts.
  const { mission } = await waitForMission(sc, (m) => m.progress.done === 2, "a and b done");
  assert.equal(mission.status, "stopped");
  assert.equal(mission.plan.items.find((i) => i.id === "c").status, "pending");
  assert.ok(!sc.requests.some((r) => r.text.includes("plan item `c`")));
  await waitUntil(
    () => oc.events.slice(origin).some((e) => e.type === "tui.toast.show" && /Mission stopped: budget/.test(e.properties?.message ?? "")),
    { timeoutMs: 10_000, what: "the stop toast" },
  );
});

test("/stop cancels the mission and its running tasks", { timeout: 120_000 }, async () => {
  const sc = scenario({
    level: "L2",
    edits: [item("slow", "builder")],
    items: { slow: { delayMs: 60_000 } },
  });
  const session = await startTask(sc);
  await waitUntil(() => sc.requests.some((r) => r.text.includes("plan item `slow`")), { timeoutMs: 60_000, what: "the item running" });
  await oc.client.session.command({ path: { id: session.id }, body: { command: "stop", arguments: "" } });
  const { mission, journal } = await waitForMission(sc, (m) => m.status === "cancelled", "cancelled");
  assert.equal(mission.reason, "cancelled by the user");
  assert.ok(journal.some((e) => e.kind === "cancelled"));
  await waitUntil(async () => {
    const [child] = (await oc.client.session.children({ path: { id: session.id } })).data;
    const msgs = child ? await sessionMessages(oc.client, child.id) : [];
    return msgs.some((m) => m.info.error?.name === "MessageAbortedError");
  }, { timeoutMs: 30_000, what: "the item's session aborted" });
  await assistantSaid(session.id, (t) => t === "Stopped, as asked.");
});

test("an Inspector FAIL becomes fix items, then a PASS completes the mission", { timeout: 150_000 }, async () => {
  const sc = scenario({
    level: "L2",
    edits: [item("impl", "builder")],
    verdicts: [
      { verdict: "fail", fixes: [{ title: "Fix the failing toggle test", description: "expects a class", agent: "builder" }] },
      { verdict: "pass" },
    ],
  });
  await startTask(sc);
  const { mission } = await waitForMission(sc, (m) => m.status === "completed", "completed", 120_000);
  assert.deepEqual(mission.rounds.map((r) => r.verdict), ["fail", "pass"]);
  assert.deepEqual(mission.rounds[0].fixItems, ["fix-1.1"]);
  const fix = mission.plan.items.find((i) => i.id === "fix-1.1");
  assert.equal(fix.status, "done");
  const fixPrompt = sc.requests.find((r) => r.text.includes("plan item `fix-1.1`"));
  assert.match(fixPrompt.text, /cargo test: 1 failed/);
});

test("the orchestrator restarted mid-mission: the mission resumes and completes", { timeout: 180_000 }, async () => {
  const sc = scenario({
    level: "L2",
    edits: [item("long", "builder"), item("after", "builder", ["long"])],
    items: { long: { delayMs: 6000 }, after: { delayMs: 100 } },
  });
  await startTask(sc);
  await waitUntil(() => sc.requests.some((r) => r.text.includes("plan item `long`")), { timeoutMs: 60_000, what: "the long item running" });
  // The plugin's server (a child of OpenCode) dies; the plugin restarts it.
  const pids = serverPids();
  assert.equal(pids.length, 1, `one orchestrator server: ${pids}`);
  process.kill(Number(pids[0]), "SIGKILL");
  await waitUntil(() => {
    const now = serverPids();
    return now.length === 1 && now[0] !== pids[0];
  }, { timeoutMs: 30_000, what: "a new server" });
  const { mission } = await waitForMission(sc, (m) => m.status === "completed", "completed", 120_000);
  assert.equal(mission.progress.done, 2);
  const long = mission.plan.items.find((i) => i.id === "long");
  // Re-attached to its OpenCode session (still running), not run again.
  assert.equal(long.attempts, 1);
});

test("plain chat stays plain chat: no mission, no continuation", { timeout: 60_000 }, async () => {
  const session = await createSession(oc.client, { title: "plain" });
  const from = model.requests.length;
  model.once((b) => lastUserText(b) === "just a question, no mission", { text: "just an answer" });
  await oc.client.session.prompt({ path: { id: session.id }, body: { parts: [{ type: "text", text: "just a question, no mission" }] } });
  await new Promise((r) => setTimeout(r, 1500)); // longer than missions.continueDelayMs
  const mine = model.requests
    .slice(from)
    .filter((e) => !e.isTitle && (e.body.messages ?? []).some((m) => m.role === "user" && contentText(m.content).includes("just a question")));
  assert.equal(mine.length, 1, "one model call, nothing injected afterwards");
  const msgs = await sessionMessages(oc.client, session.id);
  assert.equal(msgs.filter((m) => m.info.role === "user").length, 1);
  assert.ok(!cli().missions.some((m) => m.sessionId === session.id));
});
