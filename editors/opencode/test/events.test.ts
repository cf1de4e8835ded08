// Event ordering, the OpenCode event filter, toasts.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { SeqOrderer, eventToForward, type OrchestratorEvent } from "../src/events.js";
import { Toaster } from "../src/toasts.js";
import { delay } from "./helpers.js";

const ev = (seq: number, type = "task.queued", data: Record<string, unknown> = {}): OrchestratorEvent => ({ seq, type, time: Date.now(), data });

describe("SeqOrderer", () => {
  test("delivers in seq order whatever the arrival order, and drops repeats", async () => {
    const out: number[] = [];
    const o = new SeqOrderer((e) => out.push(e.seq), 50);
    for (const s of [3, 1, 2, 2, 5, 4, 1, 6]) o.push(ev(s));
    await delay(80);
    assert.deepEqual(out, [1, 2, 3, 4, 5, 6]);
    // once the baseline is known, the next in line goes out at once
    o.push(ev(7));
    assert.deepEqual(out.at(-1), 7);
    o.push(ev(7));
    o.push(ev(3));
    assert.equal(out.length, 7);
  });

  test("a gap that never closes is given up after the wait, in order", async () => {
    const out: number[] = [];
    const o = new SeqOrderer((e) => out.push(e.seq), 40);
    o.push(ev(10));
    await delay(60);
    o.push(ev(14));
    o.push(ev(12));
    assert.deepEqual(out, [10]);
    o.push(ev(11)); // 11, 12 go out; 14 waits for 13
    assert.deepEqual(out, [10, 11, 12]);
    await delay(60);
    assert.deepEqual(out, [10, 11, 12, 14]);
    o.push(ev(13)); // older than what was delivered
    assert.deepEqual(out, [10, 11, 12, 14]);
    assert.equal(o.lastSeq, 14);
    o.dispose();
  });

  test("delivering past a gap tells onGap the missing range first; closed gaps and the first event tell nothing", async () => {
    const out: string[] = [];
    const o = new SeqOrderer((e) => out.push(`${e.seq}`), 30, (first, last) => out.push(`gap ${first}-${last}`));
    o.push(ev(5)); // the first event: no baseline, so no gap before it
    await delay(50);
    o.push(ev(8));
    o.push(ev(7));
    o.push(ev(11));
    o.push(ev(6)); // closes 6-7, 8 follows; 11 waits
    assert.deepEqual(out, ["5", "6", "7", "8"]);
    await delay(50);
    assert.deepEqual(out, ["5", "6", "7", "8", "gap 9-10", "11"]);
    o.push(ev(10)); // too late: already given up, dropped (the owner fetches it)
    assert.deepEqual(out.at(-1), "11");
    o.dispose();
  });

  test("reset accounts for what a replay delivered and lets out what follows", () => {
    const out: number[] = [];
    const gaps: number[][] = [];
    const o = new SeqOrderer((e) => out.push(e.seq), 10_000, (a, b) => gaps.push([a, b]));
    o.push(ev(1));
    o.flush();
    o.push(ev(3));
    o.push(ev(5));
    o.reset(3);
    assert.deepEqual(out, [1], "3 was delivered by the replay; 5 still waits for 4");
    o.push(ev(4));
    assert.deepEqual(out, [1, 4, 5]);
    assert.deepEqual(gaps, []);
    o.dispose();
  });

  test("a consumer that throws does not stop delivery", async () => {
    const out: number[] = [];
    const o = new SeqOrderer((e) => {
      out.push(e.seq);
      if (e.seq === 1) throw new Error("bug");
    }, 10);
    o.push(ev(1));
    await delay(30);
    o.push(ev(2));
    assert.deepEqual(out, [1, 2]);
  });
});

describe("eventToForward", () => {
  const known = (id: string) => id.startsWith("ses_task");

  test("passes the session events the server reads", () => {
    for (const e of [
      { type: "session.idle", properties: { sessionID: "ses_user" } },
      { type: "session.status", properties: { sessionID: "ses_task1", status: { type: "busy" } } },
      { type: "session.error", properties: { sessionID: "ses_task1", error: { name: "APIError" } } },
      { type: "session.deleted", properties: { info: { id: "ses_task1" } } },
    ]) {
      assert.deepEqual(eventToForward(e, known), e);
    }
  });

  test("drops other types and the user's own messages", () => {
    assert.equal(eventToForward({ type: "message.part.delta", properties: {} }, known), undefined);
    assert.equal(eventToForward({ type: "server.heartbeat", properties: {} }, known), undefined);
    assert.equal(eventToForward(null, known), undefined);
    assert.equal(eventToForward({ type: "message.part.updated", properties: { part: { type: "text", sessionID: "ses_user", text: "hi" } } }, known), undefined);
    const text = { type: "message.part.updated", properties: { part: { type: "text", sessionID: "ses_task1", messageID: "msg_1", id: "prt_1", text: "answer" } } };
    assert.deepEqual(eventToForward(text, known), text, "a task session's text parts carry its answer");
    assert.equal(eventToForward({ type: "message.part.updated", properties: { part: { type: "tool", sessionID: "ses_user", state: {} } } }, known), undefined);
    assert.equal(eventToForward({ type: "message.updated", properties: { info: { sessionID: "ses_user" } } }, known), undefined);
    const mine = { type: "message.updated", properties: { info: { sessionID: "ses_task2", role: "assistant" } } };
    assert.deepEqual(eventToForward(mine, known), mine);
  });

  test("tool parts go without their output", () => {
    const e = {
      type: "message.part.updated",
      properties: {
        part: { type: "tool", tool: "bash", sessionID: "ses_task1", state: { status: "running", title: "cargo test", input: { command: "cargo test" }, output: "x".repeat(10_000), metadata: { a: 1 } } },
      },
    };
    const out = eventToForward(e, known) as typeof e;
    assert.deepEqual(out.properties.part.state, { status: "running", title: "cargo test", input: { command: "cargo test" } });
    assert.equal(out.properties.part.tool, "bash");
    assert.equal(e.properties.part.state.output.length, 10_000, "the original is left alone");
  });
});

describe("Toaster", () => {
  test("one toast per task and state, with the agent's display name", () => {
    const shown: Array<{ message: string; variant: string }> = [];
    const client = { tui: { showToast: (o: { body: { message: string; variant: string } }) => Promise.resolve(shown.push(o.body)) } };
    const t = new Toaster(client, new Map([["builder", "Builder"]]));
    const data = { taskId: "tsk_1", agent: "builder", description: "add a toggle" };
    t.onEvent(ev(1, "task.queued", data));
    t.onEvent(ev(2, "task.started", data));
    t.onEvent(ev(2, "task.started", data));
    t.onEvent(ev(3, "task.progress", { ...data, message: "x" }));
    t.onEvent(ev(4, "task.failed", { ...data, error: "boom" }));
    t.onEvent(ev(5, "task.completed", { ...data, agent: "researcher", taskId: "tsk_2" }));
    t.onEvent(ev(6, "task.cancelled", { ...data, taskId: "tsk_3" }));
    t.onEvent(ev(7, "task.timed_out", { ...data, taskId: "tsk_4" }));
    assert.deepEqual(shown, [
      { title: "Orchestrator", message: "Builder started: add a toggle", variant: "info" },
      { title: "Orchestrator", message: "Builder failed: add a toggle (boom)", variant: "error" },
      { title: "Orchestrator", message: "researcher finished: add a toggle", variant: "success" },
      { title: "Orchestrator", message: "Builder was cancelled: add a toggle", variant: "warning" },
      { title: "Orchestrator", message: "Builder timed out: add a toggle", variant: "warning" },
    ]);
  });

  test("failures and a missing TUI are ignored; disabled means silent", () => {
    const rejecting = { tui: { showToast: () => Promise.reject(new Error("no tui")) } };
    new Toaster(rejecting, new Map()).show("x", "info");
    const throwing = {
      tui: {
        showToast: (): Promise<unknown> => {
          throw new Error("sync");
        },
      },
    };
    new Toaster(throwing, new Map()).show("x", "info");
    new Toaster(undefined, new Map()).show("x", "info");
    let called = false;
    new Toaster({ tui: { showToast: () => (called = true) } }, new Map(), false).show("x", "info");
    assert.equal(called, false);
  });
});
