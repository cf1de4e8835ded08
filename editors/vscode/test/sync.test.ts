// EventSync against a fake server: snapshot, replay, live events held during a resync, and
// resyncs folded together.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { MissionTreeModel } from "../src/model";
import type { OrchestratorEvent } from "../src/protocol";
import { EventSync, type Rpc, type SyncOptions } from "../src/sync";
import { delay, waitUntil } from "./helpers-pure";

function ev(seq: number, type: string, taskId: string, status: string): OrchestratorEvent {
  return { seq, type, data: { taskId, agent: "builder", description: taskId, status, createdAt: seq } };
}

/**
 * A server with an event log. Answers are computed when a request comes (a consistent snapshot
 * of that moment) and given when `gate` opens.
 */
class FakeServer implements Rpc {
  readonly log: OrchestratorEvent[] = [];
  readonly calls: Array<{ method: string; params: unknown }> = [];
  gate: Promise<void> | undefined;

  /** Tasks whose last event leaves them queued or running. */
  open(): Array<{ taskId: string; agent: string; description: string; status: string }> {
    const last = new Map<string, string>();
    for (const e of this.log) last.set(String(e.data?.taskId), String(e.data?.status));
    return [...last].filter(([, s]) => s === "queued" || s === "running").map(([taskId, status]) => ({ taskId, agent: "builder", description: taskId, status }));
  }

  async request<T>(method: string, params: unknown): Promise<T> {
    this.calls.push({ method, params });
    const answer = this.answer<T>(method, params);
    if (this.gate) await this.gate;
    return answer;
  }

  private answer<T>(method: string, params: unknown): T {
    const p = params as { afterSeq?: number; limit?: number; status?: string[] };
    switch (method) {
      case "orchestrator/stats":
        return { running: 0, queued: 0, lastSeq: this.log.at(-1)?.seq ?? 0 } as T;
      case "orchestrator/mission/list":
        return { missions: [] } as T;
      case "orchestrator/task/list":
        return { tasks: p.status ? this.open() : [], total: 0, nextCursor: null } as T;
      case "orchestrator/events/replay": {
        const after = this.log.filter((e) => e.seq > (p.afterSeq ?? 0));
        const page = after.slice(0, p.limit ?? 1000);
        return { events: page, nextSeq: page.at(-1)?.seq ?? p.afterSeq, more: after.length > page.length } as T;
      }
      default:
        throw new Error(`unexpected ${method}`);
    }
  }
}

function setup(server: FakeServer, options: SyncOptions = {}) {
  const model = new MissionTreeModel({ fetchMission: () => Promise.reject(new Error("no missions here")) });
  const errors: string[] = [];
  const sync = new EventSync(server, model, { gapWaitMs: 20, onError: (m) => errors.push(m), ...options });
  return { model, sync, errors };
}

describe("EventSync", () => {
  test("a resync takes the snapshot, replays what came after it, then the held live events", async () => {
    const server = new FakeServer();
    server.log.push(ev(1, "task.queued", "a", "queued"), ev(2, "task.started", "a", "running"));
    const { model, sync, errors } = setup(server);
    let release!: () => void;
    server.gate = new Promise((r) => (release = r));
    const running = sync.resync();
    await delay(5);
    // Events the server announces while the snapshot (taken at seq 2) is read.
    server.log.push(ev(3, "task.queued", "b", "queued"), ev(4, "task.completed", "a", "completed"));
    sync.live(server.log[3]);
    sync.live(server.log[2]);
    await delay(50);
    assert.equal(model.task("b"), undefined, "nothing applied while the resync runs");
    server.gate = undefined;
    release();
    await running;
    // The replay from 2 brought 3 and 4; the held copies of 3 and 4 are dropped; 5 comes live.
    sync.live(ev(5, "task.started", "b", "running"));
    await waitUntil(() => sync.lastSeq === 5, "seq 5");
    assert.deepEqual(errors, []);
    assert.equal(sync.lastSeq, 5);
    assert.equal(model.task("a")?.status, "completed");
    assert.equal(model.task("b")?.status, "running");
    assert.deepEqual([sync.counter.running, sync.counter.queued], [1, 0]);
    // Live delivery goes on right after the replay, in order, without a duplicate.
    sync.live(ev(7, "task.queued", "c", "queued"));
    sync.live(ev(6, "task.completed", "b", "completed"));
    sync.live(ev(5, "task.started", "b", "running"));
    await waitUntil(() => sync.lastSeq === 7, "seq 7");
    assert.equal(model.task("b")?.status, "completed");
    assert.deepEqual([sync.counter.running, sync.counter.queued], [0, 1]);
    sync.dispose();
    model.dispose();
  });

  test("the replay is read in pages; resyncs asked for meanwhile are folded into one more", async () => {
    const server = new FakeServer();
    for (let i = 1; i <= 2500; i++) server.log.push(ev(i, "task.queued", `t${i}`, "queued"));
    const { model, sync } = setup(server);
    // The snapshot is taken at seq 2500 (stats); events 2501.. come after it.
    let release!: () => void;
    server.gate = new Promise((r) => (release = r));
    const first = sync.resync();
    await delay(5);
    for (let i = 2501; i <= 4600; i++) server.log.push(ev(i, "task.queued", `t${i}`, "queued"));
    server.gate = undefined;
    release();
    const second = sync.resync();
    const third = sync.resync();
    await Promise.all([first, second, third]);
    const stats = server.calls.filter((c) => c.method === "orchestrator/stats").length;
    assert.equal(stats, 2, "the two later calls made one more resync");
    assert.equal(sync.lastSeq, 4600);
    const replays = server.calls.filter((c) => c.method === "orchestrator/events/replay").map((c) => (c.params as { afterSeq: number }).afterSeq);
    assert.deepEqual(replays.slice(0, 4), [2500, 3500, 4500, 4600]);
    assert.equal(sync.counter.queued, 4600, "the snapshot's 2500 and the replayed 2100, each once");
    sync.dispose();
    model.dispose();
  });

  test("a failing server is reported, and live events flow again after", async () => {
    const server = new FakeServer();
    const { model, sync, errors } = setup(server);
    server.request = () => Promise.reject(new Error("connection got disposed"));
    await sync.resync();
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? "", /resynchronising with the orchestrator failed: connection got disposed; trying again in 1 s/);
    sync.live(ev(1, "task.queued", "x", "queued"));
    await waitUntil(() => model.task("x"), "x");
    sync.dispose();
    model.dispose();
  });

  test("an event that never comes: after the gap wait a resync reads what it changed", async () => {
    const server = new FakeServer();
    server.log.push(ev(1, "task.queued", "a", "queued"));
    const { model, sync, errors } = setup(server);
    await sync.resync();
    assert.equal(sync.lastSeq, 1);
    // 2 (b queued) is lost on the way; 3 and 4 come, out of order.
    server.log.push(ev(2, "task.queued", "b", "queued"), ev(3, "task.started", "a", "running"), ev(4, "task.queued", "c", "queued"));
    sync.live(server.log[3]);
    sync.live(server.log[2]);
    await delay(10);
    assert.equal(model.task("a")?.status, "queued", "3 waits for 2");
    await waitUntil(() => server.calls.filter((c) => c.method === "orchestrator/stats").length === 2 && !sync.busy, "the resync after the gap");
    assert.equal(model.task("b")?.status, "queued", "the snapshot brought what 2 said");
    assert.equal(model.task("a")?.status, "running");
    assert.equal(model.task("c")?.status, "queued");
    assert.deepEqual([sync.counter.running, sync.counter.queued], [1, 2]);
    assert.equal(sync.lastSeq, 4);
    assert.deepEqual(errors, []);
    sync.dispose();
    model.dispose();
  });

  test("a failed replay leaves lastSeq where it was and is tried again, ever later, until it works", async () => {
    const server = new FakeServer();
    server.log.push(ev(1, "task.queued", "a", "queued"), ev(2, "task.started", "a", "running"));
    const { model, sync, errors } = setup(server, { retryMs: 20, retryMaxMs: 40 });
    const answer = server.request.bind(server);
    let replayFailures = 3;
    const statsAt: number[] = [];
    server.request = <T>(method: string, params: unknown): Promise<T> => {
      if (method === "orchestrator/stats") statsAt.push(Date.now());
      if (method === "orchestrator/events/replay" && replayFailures-- > 0) return Promise.reject(new Error("the replay broke"));
      return answer<T>(method, params);
    };
    await sync.resync();
    assert.equal(sync.lastSeq, 0, "the snapshot's seq is not taken as applied while its replay failed");
    assert.match(errors[0] ?? "", /failed: the replay broke; trying again in 0.02 s/);
    await waitUntil(() => sync.lastSeq === 2, "the retries to get through");
    assert.equal(statsAt.length, 4, "three failures, then it worked");
    assert.deepEqual(errors.map((e) => /trying again in ([\d.]+) s/.exec(e)?.[1]), ["0.02", "0.04", "0.04"], "the delay doubles up to the maximum");
    const waits = statsAt.slice(1).map((t, i) => t - (statsAt[i] ?? 0));
    for (const [i, least] of [20, 40, 40].entries()) assert.ok((waits[i] ?? 0) >= least - 2, `retry ${i + 1} waited ${waits[i]} ms`);
    assert.equal(model.task("a")?.status, "running");

    // Disposed, it stops trying.
    replayFailures = 1;
    await sync.resync();
    assert.equal(errors.length, 4);
    sync.dispose();
    await delay(80);
    assert.equal(statsAt.length, 5, "no retry after dispose");
    model.dispose();
  });

  test("a reply without what the resync reads is a failure naming the request, tried again", async () => {
    const server = new FakeServer();
    server.log.push(ev(1, "task.queued", "a", "queued"));
    const { model, sync, errors } = setup(server, { retryMs: 20, retryMaxMs: 20 });
    const answer = server.request.bind(server);
    let broken = 1;
    server.request = <T>(method: string, params: unknown): Promise<T> => {
      if (method === "orchestrator/task/list" && broken > 0) {
        broken--;
        return Promise.resolve({ tasks: "not a list" } as T);
      }
      return answer<T>(method, params);
    };
    await sync.resync();
    assert.equal(sync.lastSeq, 0);
    assert.match(errors[0] ?? "", /task\/list: the server's reply has no list of tasks/);
    await waitUntil(() => sync.lastSeq === 1, "the retry to get through");
    assert.equal(model.task("a")?.status, "queued");
    sync.dispose();
    model.dispose();
  });
});
