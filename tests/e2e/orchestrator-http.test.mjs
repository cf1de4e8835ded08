// The orchestrator driving a real `opencode serve` over HTTP and its /event stream.
// The model is the only fake. One OpenCode for the whole file; an orchestrator per test.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startFakeModel, lastUserText, toolResults } from "./lib/fake-model.mjs";
import { startOpencodeServe, sessionMessages, createSession, waitUntil, delay } from "./lib/opencode.mjs";
import { startOrchestrator, agentConfig } from "./lib/orchestrator.mjs";

let model;
let oc;

before(async () => {
  model = await startFakeModel();
  oc = await startOpencodeServe({ modelPort: model.port, config: { agent: await agentConfig() } });
});

after(async () => {
  await oc?.stop();
  await model?.close();
});

async function orchestrator(config = {}) {
  return startOrchestrator({ workspaceRoot: oc.dir, opencodeUrl: oc.url, config });
}

const isChildPrompt = (text) => (body) => lastUserText(body) === text;

test("a background task runs in a child session of its agent and wakes its parent", { timeout: 90_000 }, async () => {
  const orch = await orchestrator();
  try {
    const parent = await createSession(oc.client, { title: "parent" });
    model.on(isChildPrompt("build the widget"), { text: "widget built" });
    model.on((b) => lastUserText(b).includes("[opencode-orchestrator]"), { text: "noted, continuing" });

    const r = await orch.tool(
      "delegate_task",
      { agent: "builder", description: "build the widget", prompt: "build the widget" },
      { sessionId: parent.id, agent: "build" },
    );
    const taskId = r.metadata.task.taskId;
    assert.match(r.output, /queued for builder/);

    const done = await orch.taskEvent("task.completed", taskId);
    const task = (await orch.request("orchestrator/task/get", { taskId })).task;
    assert.equal(task.status, "completed");
    assert.equal(task.result, "widget built");
    assert.ok(done.data.durationMs >= 0);

    // The child is a real OpenCode session under the parent, run by the builder agent.
    const children = (await oc.client.session.children({ path: { id: parent.id } })).data;
    assert.ok(children.some((s) => s.id === task.sessionId), "the child session is listed under its parent");
    const childMessages = await sessionMessages(oc.client, task.sessionId);
    const assistant = childMessages.filter((m) => m.info.role === "assistant").at(-1);
    assert.equal(assistant.info.agent, "builder");

    // The parent is woken with the result, in a message its model reads and answers.
    const delivered = await orch.waitForEvent((e) => e.type === "notice.delivered" && e.data.parentSessionId === parent.id);
    assert.deepEqual(delivered.data.taskIds, [taskId]);
    const woken = await model.waitForRequest((b) => lastUserText(b).includes(taskId));
    assert.match(lastUserText(woken.body), /widget built/);
    await waitUntil(async () => {
      const msgs = await sessionMessages(oc.client, parent.id);
      return msgs.some((m) => m.info.role === "assistant" && m.parts.some((p) => p.text === "noted, continuing"));
    }, { what: "the parent's model answered the notice" });

    // get_task_result answers from the ledger.
    const got = await orch.tool("get_task_result", { taskId });
    assert.match(got.output, /widget built/);
  } finally {
    await orch.stop();
  }
});

test("sync delegation returns the result to the caller", { timeout: 60_000 }, async () => {
  const orch = await orchestrator();
  try {
    model.on(isChildPrompt("answer now"), { text: "the answer is 42", delayMs: 300 });
    const r = await orch.tool("delegate_task", {
      agent: "librarian",
      description: "answer",
      prompt: "answer now",
      background: false,
    });
    assert.match(r.output, /the answer is 42/);
    assert.equal(r.metadata.task.status, "completed");
  } finally {
    await orch.stop();
  }
});

test("cancel aborts the child session in OpenCode", { timeout: 60_000 }, async () => {
  const orch = await orchestrator();
  try {
    model.on(isChildPrompt("take forever"), { text: "too late", delayMs: 60_000 });
    const r = await orch.tool("delegate_task", { agent: "builder", description: "slow", prompt: "take forever" });
    const taskId = r.metadata.task.taskId;
    await orch.taskEvent("task.started", taskId);
    await model.waitForRequest((b) => lastUserText(b) === "take forever");

    const c = await orch.tool("cancel_task", { taskId });
    assert.equal(c.metadata.cancelled, true);
    const task = (await orch.request("orchestrator/task/get", { taskId })).task;
    assert.equal(task.status, "cancelled");
    // OpenCode itself reports the child's turn as aborted.
    await waitUntil(async () => {
      const msgs = await sessionMessages(oc.client, task.sessionId);
      return msgs.some((m) => m.info.error?.name === "MessageAbortedError");
    }, { what: "OpenCode marks the child's message aborted" });
  } finally {
    await orch.stop();
  }
});

test("a model that answers 429 twice still completes the task, and the retries are events", { timeout: 60_000 }, async () => {
  const orch = await orchestrator();
  try {
    const text = "flaky model";
    // Rules are tried newest first: the fallback answer goes in first.
    model.on(isChildPrompt(text), { text: "got through" });
    model.once(isChildPrompt(text), { error: 429, headers: { "retry-after-ms": "50" } });
    model.once(isChildPrompt(text), { error: 429, headers: { "retry-after-ms": "50" } });
    const r = await orch.tool("delegate_task", { agent: "builder", description: "flaky", prompt: text });
    const taskId = r.metadata.task.taskId;
    await orch.taskEvent("task.completed", taskId);
    const retries = orch.events.filter((e) => e.type === "task.retry" && e.data.taskId === taskId);
    assert.equal(retries.length, 2, JSON.stringify(retries));
    const task = (await orch.request("orchestrator/task/get", { taskId })).task;
    assert.equal(task.result, "got through");
  } finally {
    await orch.stop();
  }
});

test("20 tasks with a per-agent limit of 5 never run more than 5 at once", { timeout: 120_000 }, async () => {
  const orch = await orchestrator({ scheduler: { maxPerAgent: 5 } });
  try {
    model.on((b) => /^fan-out \d+$/.test(lastUserText(b)), { text: "part done", delayMs: 400 });
    const ids = [];
    for (let i = 0; i < 20; i++) {
      const r = await orch.tool("delegate_task", { agent: "builder", description: `part ${i}`, prompt: `fan-out ${i}` });
      ids.push(r.metadata.task.taskId);
    }
    for (const id of ids) await orch.taskEvent("task.completed", id, { timeoutMs: 90_000 });
    let running = 0;
    let most = 0;
    const mine = new Set(ids);
    for (const e of orch.events) {
      if (!mine.has(e.data?.taskId)) continue;
      if (e.type === "task.started") most = Math.max(most, ++running);
      if (e.type === "task.completed" || e.type === "task.failed") running--;
    }
    assert.equal(most, 5);
  } finally {
    await orch.stop();
  }
});

test("a long tool call with no new messages is not taken for finished", { timeout: 60_000 }, async () => {
  const orch = await orchestrator();
  try {
    const text = "run the slow build";
    model.on((b) => lastUserText(b) === text && toolResults(b).length === 0, {
      toolCalls: [{ name: "bash", arguments: { command: "sleep 4 && echo built", description: "slow build" } }],
    });
    model.on((b) => lastUserText(b) === text && toolResults(b).length > 0, { text: "build finished" });
    const started = Date.now();
    const r = await orch.tool("delegate_task", { agent: "builder", description: "slow build", prompt: text });
    const taskId = r.metadata.task.taskId;
    await orch.taskEvent("task.completed", taskId);
    const task = (await orch.request("orchestrator/task/get", { taskId })).task;
    assert.equal(task.result, "build finished");
    assert.ok(Date.now() - started >= 4000, "it waited for the tool");
    assert.ok(orch.events.some((e) => e.type === "task.progress" && e.data.taskId === taskId), "tool progress is reported");
  } finally {
    await orch.stop();
  }
});

test("an orchestrator killed mid-task picks the task up again after a restart", { timeout: 90_000 }, async () => {
  let orch = await orchestrator();
  const text = "survive the restart";
  model.on(isChildPrompt(text), { text: "survived", delayMs: 3000 });
  const r = await orch.tool("delegate_task", { agent: "builder", description: "restart", prompt: text });
  const taskId = r.metadata.task.taskId;
  await orch.taskEvent("task.started", taskId);
  // Kill it once the prompt is surely in OpenCode (the model has the request); killed between
  // recording the start and sending the prompt, the task is rightly `interrupted` instead.
  await model.waitForRequest((b) => lastUserText(b) === text);
  await orch.kill();
  orch = await orchestrator();
  try {
    await orch.taskEvent("task.reattached", taskId);
    await orch.taskEvent("task.completed", taskId);
    const task = (await orch.request("orchestrator/task/get", { taskId })).task;
    assert.equal(task.result, "survived");
  } finally {
    await orch.stop();
  }
  await delay(0);
});
