// The tree model, the task counter and the event orderer on synthetic events: no server, no
// `vscode`.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { TaskCounter } from "../src/counter";
import { SeqOrderer } from "../src/events";
import { formatDuration, formatTokens } from "../src/format";
import { MissionTreeModel, statusIcon, type ModelNode } from "../src/model";
import type { MissionFull, OrchestratorEvent, TaskRecord } from "../src/protocol";
import { delay, waitUntil } from "./helpers-pure";

const M = "msn_1";
const S = "ses_1";
const T0 = 1_795_000_000_000;

function missionEvent(seq: number, type: string, status: string, extra: Record<string, unknown> = {}, progress = { done: 0, total: 0, running: 0, failed: 0 }): OrchestratorEvent {
  return { seq, time: T0 + seq, type, data: { missionId: M, sessionId: S, status, progress, ...extra } };
}

function taskEvent(seq: number, type: string, taskId: string, status: string, extra: Record<string, unknown> = {}): OrchestratorEvent {
  return { seq, time: T0 + seq, type, data: { taskId, agent: "builder", description: `task ${taskId}`, status, createdAt: T0, ...extra } };
}

/** A mission's life: started, triaged, one plan item run by a task, stopped by the loop breaker. */
function story(): OrchestratorEvent[] {
  const inMission = { missionId: M, planItem: "ui", parentSessionId: S };
  return [
    missionEvent(1, "mission.started", "active", { goal: "Add dark mode" }),
    missionEvent(2, "mission.triaged", "active", { level: "L2" }),
    missionEvent(3, "mission.plan", "active", { revision: 1 }, { done: 0, total: 1, running: 0, failed: 0 }),
    taskEvent(4, "task.queued", "tsk_a", "queued", inMission),
    taskEvent(5, "task.started", "tsk_a", "running", { ...inMission, startedAt: T0 + 10, sessionId: "ses_2" }),
    missionEvent(6, "mission.dispatched", "active", { items: [{ itemId: "ui", taskId: "tsk_a" }] }, { done: 0, total: 1, running: 1, failed: 0 }),
    taskEvent(7, "task.completed", "tsk_a", "completed", { ...inMission, startedAt: T0 + 10, finishedAt: T0 + 1510, durationMs: 1500 }),
    missionEvent(8, "mission.progress", "active", { taskId: "tsk_a", taskStatus: "completed" }, { done: 1, total: 1, running: 0, failed: 0 }),
    taskEvent(9, "task.queued", "tsk_other", "queued"),
    missionEvent(10, "mission.stopped", "stopped", { reason: "loop breaker: no progress in the last 3 continuations (missions.stagnationLimit)" }, { done: 1, total: 1, running: 0, failed: 0 }),
    taskEvent(11, "task.started", "tsk_other", "running", { startedAt: T0 + 20 }),
  ];
}

function details(extra: Partial<MissionFull> = {}): MissionFull {
  return {
    missionId: M,
    sessionId: S,
    goal: "Add dark mode",
    status: "stopped",
    level: "L2",
    reason: "loop breaker: no progress in the last 3 continuations (missions.stagnationLimit)",
    progress: { done: 1, total: 3, running: 0, failed: 0, line: "1/3 done" },
    spend: { inputTokens: 1000, outputTokens: 200, reasoningTokens: 34, tokens: 1234, cost: 0.02 },
    activeMs: 65_000,
    createdAt: T0,
    plan: {
      revision: 2,
      items: [
        { id: "ui", title: "The UI", status: "pending" },
        { id: "ui.toggle", title: "A toggle", agent: "builder", parent: "ui", status: "done", taskId: "tsk_a", attempts: 1 },
        { id: "ui.css", title: "The CSS", agent: "builder", parent: "ui", status: "failed", taskId: "tsk_b", attempts: 2 },
        { id: "docs", title: "Docs", agent: "recorder", dependsOn: ["ui"], status: "skipped" },
      ],
    },
    taskIds: ["tsk_a", "tsk_b", "tsk_verify"],
    taskSpend: [{ taskId: "tsk_a", inMission: true, inputTokens: 1000, outputTokens: 200, reasoningTokens: 34, cost: 0.02 }],
    ...extra,
  };
}

/** A model whose fetches are recorded and answered by the test. */
function harness(debounceMs = 20) {
  const fetches: Array<{ missionId: string; resolve(v: MissionFull): void; reject(e: Error): void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const taskFetches: string[] = [];
  const tasks = new Map<string, TaskRecord>();
  const model = new MissionTreeModel({
    debounceMs,
    now: () => T0 + 100_000,
    fetchMission: (missionId) =>
      new Promise<MissionFull>((resolve, reject) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const done = (): void => {
          inFlight--;
        };
        fetches.push({
          missionId,
          resolve: (v) => {
            done();
            resolve(v);
          },
          reject: (e) => {
            done();
            reject(e);
          },
        });
      }),
    fetchTask: (taskId) => {
      taskFetches.push(taskId);
      const t = tasks.get(taskId);
      return t ? Promise.resolve(t) : Promise.reject(new Error(`no task ${taskId}`));
    },
  });
  return { model, fetches, taskFetches, tasks, maxInFlight: () => maxInFlight };
}

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function labels(model: MissionTreeModel, nodes: ModelNode[]): string[] {
  return nodes.map((n) => model.view(n).label);
}

describe("MissionTreeModel", () => {
  test("events that arrive out of order give the same tree as in order", async () => {
    const inOrder = harness();
    for (const e of story()) inOrder.model.applyEvent(e);
    const expected = inOrder.model.roots().map((n) => inOrder.model.view(n));

    for (const seed of [1, 7, 42, 1234]) {
      const h = harness();
      const applied: number[] = [];
      const orderer = new SeqOrderer((e) => {
        applied.push(e.seq);
        h.model.applyEvent(e);
      }, 30);
      orderer.reset(0);
      for (const e of shuffled(story(), seed)) orderer.push(e);
      await waitUntil(() => orderer.heldCount === 0 && applied.length === story().length, "every event applied");
      assert.deepEqual(applied, story().map((e) => e.seq), `seed ${seed}: applied in seq order`);
      assert.deepEqual(h.model.roots().map((n) => h.model.view(n)), expected, `seed ${seed}`);
      h.model.dispose();
    }
    const mission = inOrder.model.mission(M);
    assert.equal(mission?.status, "stopped");
    assert.equal(mission?.goal, "Add dark mode");
    assert.equal(mission?.level, "L2");
    assert.match(mission?.reason ?? "", /loop breaker/);
    inOrder.model.dispose();
  });

  test("a mission row shows goal, status, level, progress, tokens and duration", () => {
    const { model } = harness();
    model.setMissionDetails(details());
    const v = model.view(model.missionNode(M));
    assert.equal(v.label, "Add dark mode");
    assert.equal(v.description, "stopped · L2 · 1/3 · 1.2k tok · 1m 5s");
    assert.equal(v.icon, "stop-circle");
    assert.equal(v.contextValue, "mission.stopped");
    assert.match(v.tooltip, /Status: stopped \(loop breaker: no progress in the last 3 continuations/);
    assert.match(v.tooltip, /Mission: msn_1, session ses_1/);
    model.dispose();
  });

  test("plan items form a tree by parent, with agent, status icon, duration and tokens from their task", () => {
    const { model } = harness();
    model.applyEvent(taskEvent(1, "task.completed", "tsk_a", "completed", { missionId: M, planItem: "ui.toggle", startedAt: T0, finishedAt: T0 + 4200, durationMs: 4200 }));
    model.applyEvent(taskEvent(2, "task.failed", "tsk_b", "failed", { missionId: M, planItem: "ui.css", startedAt: T0, finishedAt: T0 + 300, durationMs: 300, error: "boom" }));
    model.applyEvent({ seq: 3, type: "task.started", data: { taskId: "tsk_verify", agent: "inspector", description: "Verify: Add dark mode", status: "running", missionId: M, createdAt: T0 + 5, startedAt: T0 + 90_000 } });
    model.setMissionDetails(details());
    const mission = model.missionNode(M);
    const top = model.children(mission);
    assert.deepEqual(labels(model, top), ["The UI", "Docs", "Verify: Add dark mode"]);
    const [ui, docs, verify] = top as [ModelNode, ModelNode, ModelNode];
    assert.deepEqual(labels(model, model.children(ui)), ["A toggle", "The CSS"]);
    const [toggle, css] = model.children(ui) as [ModelNode, ModelNode];

    const tv = model.view(toggle);
    assert.equal(tv.description, "builder · done · 4.2s · 1.2k tok");
    assert.equal(tv.icon, "check");
    assert.equal(tv.iconColor, "testing.iconPassed");
    assert.equal(tv.taskId, "tsk_a");
    assert.equal(tv.contextValue, "item.task");
    const cv = model.view(css);
    assert.equal(cv.icon, "error");
    assert.match(cv.tooltip, /Error: boom/);
    assert.match(cv.tooltip, /attempts: 2/);
    const uv = model.view(ui);
    assert.equal(uv.description, "pending · 1/2 done");
    assert.equal(uv.collapsible, true);
    assert.equal(uv.icon, "circle-outline");
    assert.equal(model.view(docs).icon, "circle-slash");
    assert.equal(model.view(docs).contextValue, "item");
    // A running task's duration goes on from its start.
    assert.equal(model.view(verify).description, "inspector · running · 10s");
    assert.equal(model.view(verify).icon, "sync~spin");

    assert.equal(model.parent(toggle), ui);
    assert.equal(model.parent(ui), mission);
    assert.equal(model.parent(verify), mission);
    assert.equal(model.parent(mission), undefined);
    model.dispose();
  });

  test("tasks outside any mission are under Other tasks, newest first", async () => {
    const h = harness();
    h.tasks.set("tsk_2", { id: "tsk_2", agent: "builder", description: "second", status: "completed", createdAt: T0 + 2, usage: { inputTokens: 900, outputTokens: 300 } });
    h.model.applyEvent(taskEvent(1, "task.completed", "tsk_1", "completed", { createdAt: T0 + 1, durationMs: 12_000 }));
    h.model.applyEvent(taskEvent(2, "task.completed", "tsk_2", "completed", { createdAt: T0 + 2, durationMs: 800 }));
    const roots = h.model.roots();
    assert.equal(roots.length, 1);
    const other = roots[0] as ModelNode;
    assert.equal(h.model.view(other).label, "Other tasks");
    assert.deepEqual(labels(h.model, h.model.children(other)), ["task tsk_2", "task tsk_1"]);
    // Events carry no usage: a finished task is read once (task/get) for its tokens.
    await waitUntil(() => h.model.view(h.model.taskNode("tsk_2")).description.includes("tok"), "tokens of tsk_2");
    assert.equal(h.model.view(h.model.taskNode("tsk_2")).description, "builder · completed · 0.8s · 1.2k tok");
    assert.deepEqual([...h.taskFetches].sort(), ["tsk_1", "tsk_2"]);
    assert.equal(h.model.parent(h.model.taskNode("tsk_1")), other);
    h.model.dispose();
  });

  test("a task delegated from the mission's session (the Architect's) is under the mission, not in Other tasks", () => {
    const { model } = harness();
    model.setMissionDetails(details({ taskIds: [], taskSpend: [] }));
    // Its summary has no missionId: the server does not say it, its parent session does.
    model.applyEvent(taskEvent(1, "task.completed", "tsk_arch", "completed", { agent: "architect", description: "plan it", parentSessionId: S, durationMs: 2000 }));
    model.applyEvent(taskEvent(2, "task.completed", "tsk_free", "completed", { description: "unrelated", parentSessionId: "ses_other" }));
    const kids = model.children(model.missionNode(M));
    assert.deepEqual(labels(model, kids).slice(-1), ["plan it"]);
    assert.equal(model.parent(model.taskNode("tsk_arch"))?.id, `mission:${M}`);
    assert.deepEqual(labels(model, model.children(model.otherNode())), ["unrelated"]);
    model.dispose();
  });

  test("a task the server lists as delegated under the mission is under it, whoever delegated it", () => {
    const { model } = harness();
    // Delegated by one of the mission's tasks: its parent session is not the mission's.
    model.setMissionDetails(
      details({ taskIds: [], taskSpend: [], delegated: [{ taskId: "tsk_lib", agent: "librarian", description: "read the docs", running: false }] }),
    );
    model.applyEvent(taskEvent(1, "task.completed", "tsk_lib", "completed", { agent: "librarian", description: "read the docs", parentSessionId: "ses_child" }));
    assert.equal(model.parent(model.taskNode("tsk_lib"))?.id, `mission:${M}`);
    assert.deepEqual(labels(model, model.children(model.otherNode())), []);
    model.dispose();
  });

  test("mission/start's reply coming after the mission's events does not undo them", () => {
    const { model } = harness();
    model.applyEvent(missionEvent(1, "mission.started", "active", { goal: "Add dark mode" }));
    model.applyEvent(missionEvent(5, "mission.stopped", "stopped", { reason: "loop breaker" }));
    const reply = { missionId: M, sessionId: S, goal: "Add dark mode", status: "active" as const, reason: null, createdAt: T0 + 1, updatedAt: T0 + 1, activeMs: 0 };
    model.upsertMissions([reply]);
    assert.equal(model.mission(M)?.status, "stopped");
    assert.equal(model.mission(M)?.reason, "loop breaker");
    // A newer reply (mission/cancel's) wins.
    model.upsertMissions([{ ...reply, status: "cancelled", reason: "cancelled by the user", updatedAt: T0 + 9 }]);
    assert.equal(model.mission(M)?.status, "cancelled");
    model.dispose();
  });

  test("a task's status never goes back (an older snapshot does not undo an event)", () => {
    const { model } = harness();
    model.applyEvent(taskEvent(1, "task.completed", "tsk_1", "completed", { durationMs: 5 }));
    model.upsertTasks([{ taskId: "tsk_1", agent: "builder", description: "task tsk_1", status: "running" }]);
    assert.equal(model.task("tsk_1")?.status, "completed");
    model.upsertTasks([{ taskId: "tsk_2", agent: "builder", description: "x", status: "queued" }]);
    model.applyEvent(taskEvent(2, "task.started", "tsk_2", "running"));
    assert.equal(model.task("tsk_2")?.status, "running");
    model.dispose();
  });

  test("mission events are coalesced into one mission/get, never two in flight per mission", async () => {
    const h = harness(30);
    for (const e of story().filter((e) => e.type.startsWith("mission."))) h.model.applyEvent(e);
    await waitUntil(() => h.fetches.length === 1, "the first fetch");
    await delay(80);
    assert.equal(h.fetches.length, 1, "one request for a burst of events");
    // Events while it is in flight: no second request until it answers, then exactly one more.
    h.model.applyEvent(missionEvent(20, "mission.continued", "active", { continuation: 1 }));
    h.model.applyEvent(missionEvent(21, "mission.continued", "active", { continuation: 2 }));
    await delay(80);
    assert.equal(h.fetches.length, 1, "still one: the first is in flight");
    h.fetches[0]?.resolve(details({ status: "stopped" }));
    await waitUntil(() => h.fetches.length === 2, "the fetch after the one in flight");
    // The reply to a request sent before the last events does not undo their status.
    assert.equal(h.model.mission(M)?.status, "active");
    h.fetches[1]?.resolve(details({ status: "active", activeMs: 70_000 }));
    await delay(80);
    assert.equal(h.fetches.length, 2);
    assert.equal(h.maxInFlight(), 1);
    assert.equal(h.model.mission(M)?.activeMs, 70_000);
    h.model.dispose();
  });

  test("a failed mission/get is reported and the next event fetches again", async () => {
    const errors: string[] = [];
    const fetches: string[] = [];
    const model = new MissionTreeModel({
      debounceMs: 5,
      fetchMission: (id) => {
        fetches.push(id);
        return fetches.length === 1 ? Promise.reject(new Error("connection closed")) : Promise.resolve(details());
      },
      onError: (m) => errors.push(m),
    });
    model.applyEvent(missionEvent(1, "mission.started", "active", { goal: "Add dark mode" }));
    await waitUntil(() => errors.length === 1, "the error");
    assert.match(errors[0] ?? "", /mission\/get msn_1 failed: connection closed/);
    model.applyEvent(missionEvent(2, "mission.stopped", "stopped", { reason: "x" }));
    await waitUntil(() => model.missionDetails(M), "details");
    assert.equal(fetches.length, 2);
    model.dispose();
  });

  test("expanding a mission never read fetches it; a task of an unknown mission brings the mission in", async () => {
    const h = harness(5);
    h.model.upsertMissions([{ missionId: M, goal: "Add dark mode", status: "completed", createdAt: T0 }]);
    assert.deepEqual(h.model.children(h.model.missionNode(M)), []);
    await waitUntil(() => h.fetches.length === 1, "the fetch on expansion");
    h.fetches[0]?.resolve(details({ status: "completed" }));
    await waitUntil(() => h.model.children(h.model.missionNode(M)).length > 0, "children");

    h.model.applyEvent(taskEvent(5, "task.started", "tsk_z", "running", { missionId: "msn_old", planItem: "x" }));
    assert.deepEqual(h.model.roots().map((n) => n.id), ["mission:msn_1"], "hidden until read");
    await waitUntil(() => h.fetches.length === 2, "the unknown mission's fetch");
    assert.equal(h.fetches[1]?.missionId, "msn_old");
    h.fetches[1]?.resolve({ ...details(), missionId: "msn_old", goal: "Older", createdAt: T0 - 1000, plan: { revision: 1, items: [{ id: "x", title: "X", agent: "builder", status: "running", taskId: "tsk_z" }] } });
    await waitUntil(() => h.model.roots().length === 2, "the older mission");
    assert.deepEqual(labels(h.model, h.model.roots()), ["Add dark mode", "Older"]);
    h.model.dispose();
  });

  test("reconcile refetches tasks that ended while events were lost", async () => {
    const h = harness();
    h.model.applyEvent(taskEvent(1, "task.started", "tsk_gone", "running"));
    h.model.applyEvent(taskEvent(2, "task.started", "tsk_still", "running"));
    h.tasks.set("tsk_gone", { id: "tsk_gone", agent: "builder", description: "task tsk_gone", status: "completed", durationMs: 5 });
    h.model.reconcile(new Set(["tsk_still"]));
    await waitUntil(() => h.model.task("tsk_gone")?.status === "completed", "tsk_gone completed");
    assert.deepEqual(h.taskFetches, ["tsk_gone"]);
    assert.deepEqual(h.model.taskCounts(), { running: 1, queued: 0 });
    h.model.dispose();
  });

  test("old finished tasks outside missions are forgotten, the newest kept", () => {
    const { model } = harness();
    for (let i = 1; i <= 400; i++) model.applyEvent(taskEvent(i, "task.completed", `tsk_${String(i).padStart(3, "0")}`, "completed", { createdAt: T0 + i }));
    model.applyEvent(taskEvent(401, "task.started", "tsk_running", "running", { createdAt: T0 }));
    const kids = model.children(model.otherNode());
    assert.ok(kids.length >= 200 && kids.length <= 251, `${kids.length} kept`);
    assert.equal(model.view(kids[0] as ModelNode).label, "task tsk_400");
    assert.ok(model.task("tsk_running"), "an open task is never forgotten");
    model.dispose();
  });

  test("the nodes of items a plan revision dropped, and of a pruned mission's items, are let go", () => {
    const { model } = harness();
    model.setMissionDetails(details({ status: "completed" }));
    const ui = model.itemNode(M, "ui");
    const docs = model.itemNode(M, "docs");
    const plan = details().plan;
    assert.ok(plan);
    model.setMissionDetails(details({ status: "completed", plan: { revision: 3, items: plan.items.filter((i) => i.id !== "docs") } }));
    assert.equal(model.itemNode(M, "ui"), ui, "a kept item keeps its node");
    assert.notEqual(model.itemNode(M, "docs"), docs, "a dropped item's node was forgotten");

    // 101 newer finished missions push this one out.
    const toggle = model.itemNode(M, "ui.toggle");
    model.upsertMissions(Array.from({ length: 101 }, (_, i) => ({ missionId: `msn_new${i}`, goal: `newer ${i}`, status: "completed" as const, createdAt: T0 + 1 + i })));
    assert.equal(model.mission(M), undefined, "pruned");
    assert.notEqual(model.itemNode(M, "ui.toggle"), toggle);
    model.dispose();
  });

  test("a reply the model cannot take is reported, not left as an unhandled rejection", async () => {
    const errors: string[] = [];
    const model = new MissionTreeModel({
      debounceMs: 5,
      fetchMission: () => Promise.resolve(undefined as unknown as MissionFull),
      fetchTask: () => Promise.resolve(null as unknown as TaskRecord),
      onError: (m) => errors.push(m),
    });
    model.applyEvent(missionEvent(1, "mission.started", "active", { goal: "Add dark mode" }));
    model.applyEvent(taskEvent(2, "task.started", "tsk_gone", "running"));
    model.reconcile(new Set());
    await waitUntil(() => errors.length === 2, () => `two errors, got ${JSON.stringify(errors)}`);
    assert.ok(errors.some((e) => /^applying mission\/get msn_1 failed: /.test(e)), errors.join("\n"));
    assert.ok(errors.some((e) => /^applying task\/get tsk_gone failed: /.test(e)), errors.join("\n"));
    model.dispose();
  });

  test("status icons", () => {
    assert.deepEqual(
      ["active", "paused", "stopped", "completed", "cancelled"].map((s) => statusIcon("mission", s)),
      ["sync~spin", "debug-pause", "stop-circle", "check", "circle-slash"],
    );
    assert.deepEqual(
      ["pending", "running", "done", "failed", "cancelled", "skipped"].map((s) => statusIcon("item", s)),
      ["circle-outline", "sync~spin", "check", "error", "circle-slash", "circle-slash"],
    );
    assert.deepEqual(
      ["queued", "running", "completed", "failed", "cancelled", "timed_out", "interrupted", "new"].map((s) => statusIcon("task", s)),
      ["circle-outline", "sync~spin", "check", "error", "circle-slash", "error", "error", "question"],
    );
  });
});

describe("TaskCounter", () => {
  test("counts from events, reset from a snapshot", () => {
    const c = new TaskCounter();
    assert.equal(c.text(), "$(rocket) 0 running · 0 queued");
    c.apply(taskEvent(1, "task.queued", "a", "queued"));
    c.apply(taskEvent(2, "task.queued", "b", "queued"));
    c.apply(taskEvent(3, "task.queued", "c", "queued"));
    c.apply(taskEvent(4, "task.started", "a", "running"));
    c.apply(taskEvent(5, "task.started", "b", "running"));
    assert.equal(c.text(), "$(rocket) 2 running · 1 queued");
    c.apply(taskEvent(6, "task.completed", "a", "completed"));
    c.apply(taskEvent(7, "task.cancelled", "c", "cancelled"));
    assert.equal(c.text(), "$(rocket) 1 running · 0 queued");
    assert.equal(c.apply({ seq: 8, type: "mission.started", data: {} }), false);
    c.reset([
      { taskId: "x", status: "running" },
      { taskId: "y", status: "queued" },
      { taskId: "z", status: "queued" },
      { taskId: "w", status: "completed" },
    ]);
    assert.deepEqual([c.running, c.queued], [1, 2]);
    // The same event twice (a replay over a snapshot) counts once.
    c.apply(taskEvent(9, "task.started", "y", "running"));
    c.apply(taskEvent(9, "task.started", "y", "running"));
    assert.deepEqual([c.running, c.queued], [2, 1]);
  });
});

describe("SeqOrderer", () => {
  test("reset delivers what follows the snapshot and drops what it covered", () => {
    const got: number[] = [];
    const o = new SeqOrderer((e) => got.push(e.seq), 10_000);
    o.push({ seq: 5, type: "x" });
    o.push({ seq: 3, type: "x" });
    o.push({ seq: 7, type: "x" });
    assert.deepEqual(got, [], "held: nothing delivered yet, an earlier event may come");
    o.reset(4);
    assert.deepEqual(got, [5]);
    o.push({ seq: 6, type: "x" });
    assert.deepEqual(got, [5, 6, 7]);
    o.push({ seq: 6, type: "x" });
    assert.deepEqual(got, [5, 6, 7], "a duplicate is dropped");
    o.dispose();
  });

  test("delivering past a gap tells onGap the missing range before the event after it", async () => {
    const got: string[] = [];
    const o = new SeqOrderer((e) => got.push(`${e.seq}`), 20, (first, last) => got.push(`gap ${first}-${last}`));
    o.reset(2);
    o.push({ seq: 6, type: "x" });
    o.push({ seq: 3, type: "x" });
    o.push({ seq: 9, type: "x" });
    assert.deepEqual(got, ["3"]);
    await delay(40);
    assert.deepEqual(got, ["3", "gap 4-5", "6", "gap 7-8", "9"]);
    o.push({ seq: 4, type: "x" });
    assert.deepEqual(got.at(-1), "9", "too late: the owner fetches it");
    o.dispose();
  });
});

describe("format", () => {
  test("durations and tokens", () => {
    assert.deepEqual([300, 4200, 12_000, 125_000, 3_780_000].map(formatDuration), ["0.3s", "4.2s", "12s", "2m 5s", "1h 3m"]);
    assert.deepEqual([950, 1234, 12_345, 123_456, 1_234_567].map(formatTokens), ["950 tok", "1.2k tok", "12.3k tok", "123k tok", "1.2M tok"]);
  });
});
