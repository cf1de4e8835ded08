// The plugin end to end against the real server (scripted runtime, and the OpenCode runtime
// through the bridge), with a fake OpenCode SDK client.

import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";

import type { Config, Hooks, ToolContext } from "@opencode-ai/plugin";

import type { OrchestratorEvent } from "../src/events.js";
import { MARKER, createOrchestrator, parseTaskArgs, type OrchestratorRuntime, type RuntimeDeps } from "../src/plugin.js";
import { callTool, type ToolServer } from "../src/tools.js";
import { FakeClient, delay, isolatedEnv, pluginInput, scriptedConfig, script, serverBin, tempWorkspace, waitUntil } from "./helpers.js";

const runtimes: OrchestratorRuntime[] = [];
after(async () => {
  await Promise.all(runtimes.map((r) => r.dispose()));
});

async function start(options: Record<string, unknown>, deps: RuntimeDeps = {}, ws = tempWorkspace()) {
  const client = new FakeClient();
  const { hooks, runtime } = await createOrchestrator(pluginInput(client, ws), { bin: serverBin(), standalone: true, ...options }, { env: isolatedEnv(ws), stopOnExit: false, ...deps });
  assert.ok(runtime, "the server started");
  runtimes.push(runtime);
  client.emit = (event) => void hooks.event?.({ event: event as never });
  return { client, hooks, runtime, ws };
}

function ctx(over: Partial<ToolContext> = {}): ToolContext {
  return {
    sessionID: "ses_parent",
    messageID: "msg_1",
    agent: "commander",
    directory: "/tmp",
    worktree: "/tmp",
    abort: new AbortController().signal,
    metadata: () => undefined,
    ask: () => Promise.resolve(),
    ...over,
  };
}

type ToolOut = { title: string; output: string; metadata: { task?: { taskId: string; status: string; agent: string } } };

async function run(hooks: Hooks, name: string, args: Record<string, unknown>, c: ToolContext = ctx()): Promise<ToolOut> {
  const def = hooks.tool?.[name];
  assert.ok(def, `tool ${name} is registered`);
  return (await def.execute(args, c)) as ToolOut;
}

describe("plugin with the scripted runtime", () => {
  let s: Awaited<ReturnType<typeof start>>;
  const seen: OrchestratorEvent[] = [];
  before(async () => {
    s = await start({ config: scriptedConfig(tempWorkspace(), { scheduler: { maxWaitMs: 150 } }) }, { bridge: false, tools: { minPollIntervalMs: 50 } });
    s.runtime.listeners.add((e) => seen.push(e));
  });

  test("registers every server tool with zod args", () => {
    for (const name of ["cancel_task", "delegate_task", "get_task_result", "list_tasks"]) assert.ok(name in (s.hooks.tool ?? {}), name);
    const d = s.hooks.tool?.delegate_task;
    assert.match(d?.description ?? "", /Delegate a task/);
    assert.deepEqual(Object.keys(d?.args ?? {}).sort(), ["agent", "background", "description", "model", "priority", "prompt", "resume"]);
    assert.equal(s.runtime.forwardEvents, false, "no bridge: OpenCode's events are not sent");
  });

  test("a tool call runs on the server with the caller as context", async () => {
    const r = await run(s.hooks, "delegate_task", { agent: "builder", description: "say hi", prompt: "hi there" });
    assert.equal(r.metadata.task?.status, "queued");
    const taskId = r.metadata.task?.taskId;
    const done = await run(s.hooks, "get_task_result", { taskId, waitMs: 5000 });
    assert.equal(done.metadata.task?.status, "completed");
    assert.match(done.output, /done: hi there/);
    const mine = await run(s.hooks, "list_tasks", {}, ctx());
    assert.match(mine.output, new RegExp(taskId));
    const other = await run(s.hooks, "list_tasks", {}, ctx({ sessionID: "ses_other" }));
    assert.doesNotMatch(other.output, new RegExp(taskId));
  });

  test("a server error becomes an Error with the server's message", async () => {
    await assert.rejects(run(s.hooks, "get_task_result", { taskId: "tsk_nope" }), /tsk_nope/);
    await assert.rejects(run(s.hooks, "delegate_task", { agent: "commander", description: "x", prompt: "x" }), /commander/i);
  });

  test("sync delegation polls get_task_result until the task ends", async () => {
    const calls: string[] = [];
    const counting: ToolServer = {
      request: (method, params, options) => {
        calls.push((params as { name: string }).name);
        return s.runtime.server.request(method, params, options);
      },
      whenReady: () => s.runtime.server.whenReady(),
    };
    const titles: string[] = [];
    const r = await callTool(
      counting,
      "delegate_task",
      { agent: "researcher", description: "slow one", prompt: script({ delayMs: 900, reply: "slow result" }), background: false },
      { ...ctx(), metadata: (m) => titles.push(m.title ?? "") },
      { syncWaitMs: 25_000, minPollIntervalMs: 50 },
    );
    assert.equal(r.metadata.task && (r.metadata.task as { status: string }).status, "completed");
    assert.match(r.output, /slow result/);
    assert.equal(calls[0], "delegate_task");
    assert.ok(calls.length >= 3, `several bounded polls, got ${calls.join(",")}`);
    assert.ok(calls.slice(1).every((c) => c === "get_task_result"));
    assert.ok(titles.length >= 1 && titles.every((t) => /researcher: (queued|running)/.test(t)));
  });

  test("the registered delegate_task waits too (background: false)", async () => {
    const r = await run(s.hooks, "delegate_task", { agent: "builder", description: "wait", prompt: script({ delayMs: 400, reply: "waited" }), background: false });
    assert.equal(r.metadata.task?.status, "completed");
    assert.match(r.output, /waited/);
  });

  test("an abort stops the wait; the task goes on", async () => {
    const ac = new AbortController();
    const p = run(s.hooks, "delegate_task", { agent: "builder", description: "forever", prompt: script({ hang: true }), background: false }, ctx({ abort: ac.signal }));
    await delay(400);
    const t0 = Date.now();
    ac.abort();
    await assert.rejects(p, /Stopped waiting for task tsk_/);
    assert.ok(Date.now() - t0 < 1000);
    const list = await run(s.hooks, "list_tasks", { status: ["running"] });
    assert.match(list.output, /forever/);
  });

  test("events arrive in seq order and toasts follow task states", async () => {
    seen.length = 0;
    s.client.toasts.length = 0;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await run(s.hooks, "delegate_task", { agent: "librarian", description: `doc ${i}`, prompt: script({ delayMs: 20 * i, reply: `r${i}` }) });
      ids.push(r.metadata.task?.taskId as string);
    }
    await run(s.hooks, "delegate_task", { agent: "inspector", description: "bad", prompt: script({ fail: "it broke" }) });
    await waitUntil(() => ids.every((id) => seen.some((e) => e.type === "task.completed" && e.data?.taskId === id)), "all tasks to complete");
    await waitUntil(() => seen.some((e) => e.type === "task.failed"), "the failure");
    const seqs = seen.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "strictly by seq");
    assert.equal(new Set(seqs).size, seqs.length, "no repeats");
    await delay(300);
    const started = s.client.toasts.filter((t) => / started: doc /.test(t.message));
    const finished = s.client.toasts.filter((t) => / finished: doc /.test(t.message));
    assert.equal(started.length, 5);
    assert.equal(finished.length, 5);
    assert.ok(finished.every((t) => t.variant === "success" && t.message.startsWith("Librarian")));
    assert.ok(s.client.toasts.some((t) => t.variant === "error" && /Inspector failed: bad \(.*it broke/.test(t.message)));
    assert.equal(s.client.toasts.filter((t) => /queued/.test(t.message)).length, 0);
  });

  test("/task starts a mission bound to the session; /task resume and /stop act on it", async () => {
    const before = s.hooks["command.execute.before"];
    assert.ok(before, "the command hook is registered");
    await s.hooks.config?.({});
    assert.deepEqual([...s.runtime.registeredCommands].sort(), ["stop", "task"]);
    const parts = () => [{ type: "text", text: "the template with the goal" }];
    const p1 = parts();
    await before({ command: "task", sessionID: "ses_cmd", arguments: "  Add dark mode  " }, { parts: p1 as never });
    assert.equal(p1[0]?.text, "the template with the goal", "the server's template goes out as is");
    const list = await s.runtime.server.request<{ missions: Array<{ sessionId: string; goal: string; status: string }> }>(
      "orchestrator/mission/list",
      {},
    );
    const mine = list.missions.find((m) => m.sessionId === "ses_cmd");
    assert.equal(mine?.goal, "Add dark mode");
    assert.equal(mine?.status, "active");
    assert.ok(s.runtime.taskSessions.has("ses_cmd"), "the session's messages are followed");

    // A second /task in the same session is refused; the Commander is told why.
    const p2 = parts();
    s.client.toasts.length = 0;
    await before({ command: "task", sessionID: "ses_cmd", arguments: "Something else" }, { parts: p2 as never });
    assert.ok(p2[0]?.text.startsWith(`${MARKER} The mission could not start`), p2[0]?.text);
    assert.match(p2[0]?.text ?? "", /already runs mission/);
    await waitUntil(() => s.client.toasts.some((t) => t.variant === "error" && /could not start/.test(t.message)), "the error toast");
    assert.ok(s.runtime.taskSessions.has("ses_cmd"), "still followed: its first mission runs");

    const p3 = parts();
    await before({ command: "stop", sessionID: "ses_cmd", arguments: "" }, { parts: p3 as never });
    assert.equal(p3[0]?.text, "the template with the goal");
    const got = await s.runtime.server.request<{ mission: { status: string } }>("orchestrator/mission/get", { sessionId: "ses_cmd" });
    assert.equal(got.mission.status, "cancelled");
    await waitUntil(() => s.client.toasts.some((t) => /^Mission cancelled/.test(t.message)), "the cancel toast");

    // Nothing to stop or resume in a session without a mission.
    const p4 = parts();
    await before({ command: "stop", sessionID: "ses_nothing", arguments: "" }, { parts: p4 as never });
    assert.match(p4[0]?.text ?? "", /typed \/stop, but: session ses_nothing runs no mission/);
    const p5 = parts();
    await before({ command: "task", sessionID: "ses_nothing", arguments: "resume" }, { parts: p5 as never });
    assert.match(p5[0]?.text ?? "", /could not be resumed: session ses_nothing runs no mission/);
    const p6 = parts();
    await before({ command: "task", sessionID: "ses_empty", arguments: "   " }, { parts: p6 as never });
    assert.match(p6[0]?.text ?? "", /could not start: invalid `goal`/);
    // No mission started in these sessions: their messages are not followed for one.
    assert.equal(s.runtime.taskSessions.has("ses_nothing"), false);
    assert.equal(s.runtime.taskSessions.has("ses_empty"), false);
  });

  test("config registers the agents (the user's fields win), /task and /stop", async () => {
    const cfg = {
      agent: { builder: { model: "mine/model", permission: { edit: "ask" } } },
      command: {},
    } as unknown as Config;
    await s.hooks.config?.(cfg);
    const agents = cfg.agent as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(agents).sort(), ["architect", "builder", "commander", "inspector", "librarian", "recorder", "researcher"]);
    assert.equal(agents.commander?.mode, "primary");
    assert.equal(agents.commander?.name, undefined);
    assert.equal(agents.commander?.displayName, undefined);
    assert.match(String(agents.commander?.prompt), /Commander/);
    assert.equal(agents.architect?.hidden, true);
    assert.deepEqual(agents.builder?.permission, { edit: "ask" });
    assert.equal(agents.builder?.model, "mine/model");
    assert.equal(agents.builder?.mode, "subagent");
    assert.deepEqual((agents.inspector?.tools as Record<string, boolean>).delegate_task, false);
    const commands = cfg.command as Record<string, { template: string; description: string; agent: string }>;
    const task = commands.task;
    assert.equal(task?.agent, "commander");
    assert.match(task?.description ?? "", /Run a mission/);
    assert.ok(task?.template.startsWith(`${MARKER} Mission: $ARGUMENTS`), task?.template);
    assert.match(task?.template ?? "", /mission_triage/);
    assert.equal(commands.stop?.agent, "commander");
    assert.ok(commands.stop?.template.startsWith(MARKER));
    // The same config seen again: its /task is still ours, not "already configured".
    await s.hooks.config?.(cfg);
    assert.ok(!s.client.logs.some((l) => /already configured/.test(l.message)));
    assert.equal((cfg.command as Record<string, unknown>).task, task);

    const theirs = { command: { task: { template: "their own $ARGUMENTS" } } } as unknown as Config;
    await s.hooks.config?.(theirs);
    assert.deepEqual((theirs.command as Record<string, unknown>).task, { template: "their own $ARGUMENTS" });
    assert.ok(s.client.logs.some((l) => l.level === "warn" && /`task` command is already configured/.test(l.message)));
    assert.ok((theirs.agent as Record<string, unknown>).commander, "agents registered even then");

    // Their /task is theirs: no mission, the prompt goes as they wrote it; /stop is still ours.
    const before = s.hooks["command.execute.before"];
    const mine = [{ type: "text", text: "their own Add a footer" }];
    await before?.({ command: "task", sessionID: "ses_theirs", arguments: "Add a footer" }, { parts: mine as never });
    assert.deepEqual(mine, [{ type: "text", text: "their own Add a footer" }]);
    assert.equal(s.runtime.taskSessions.has("ses_theirs"), false);
    const list = await s.runtime.server.request<{ missions: Array<{ sessionId: string }> }>("orchestrator/mission/list", {});
    assert.equal(list.missions.some((m) => m.sessionId === "ses_theirs"), false, "no mission started");
    const stop = [{ type: "text", text: "stop" }];
    await before?.({ command: "stop", sessionID: "ses_theirs", arguments: "" }, { parts: stop as never });
    assert.match(stop[0]?.text ?? "", /typed \/stop, but: session ses_theirs runs no mission/);
  });

  test("the server restarts after a crash, with a toast, and tools work again", async () => {
    const first = s.runtime.server.pid as number;
    s.client.toasts.length = 0;
    process.kill(first, "SIGKILL");
    await waitUntil(() => s.client.toasts.some((t) => /restarted/.test(t.message)), "the restart toast");
    await s.runtime.server.whenReady();
    assert.notEqual(s.runtime.server.pid, first);
    const r = await run(s.hooks, "delegate_task", { agent: "builder", description: "after restart", prompt: "again", background: false });
    assert.equal(r.metadata.task?.status, "completed");
  });
});

describe("/task arguments", () => {
  test("leading budget flags become the mission's budgets; the goal is kept as typed", () => {
    assert.deepEqual(parseTaskArgs("  Add dark mode  "), { resume: false, goal: "Add dark mode" });
    assert.deepEqual(parseTaskArgs("--max-tasks 3 --max-cost=0.5 Add dark mode"), {
      resume: false,
      goal: "Add dark mode",
      budgets: { maxTasks: 3, maxCost: 0.5 },
    });
    assert.deepEqual(parseTaskArgs("--max-minutes 10 -- --max-tasks is part of the goal"), {
      resume: false,
      goal: "--max-tasks is part of the goal",
      budgets: { maxMinutes: 10 },
    });
    assert.deepEqual(parseTaskArgs("Fix --max-tasks 3 later"), { resume: false, goal: "Fix --max-tasks 3 later" });
    assert.deepEqual(parseTaskArgs("--max-tasks 2\nFix the parser:\n\n- keep  the spacing\n"), {
      resume: false,
      goal: "Fix the parser:\n\n- keep  the spacing",
      budgets: { maxTasks: 2 },
    });
    assert.deepEqual(parseTaskArgs("-- resume the old work"), { resume: false, goal: "resume the old work" });
    assert.deepEqual(parseTaskArgs(""), { resume: false, goal: "" });
  });

  test("resume, in any case, with flags before or after it", () => {
    assert.deepEqual(parseTaskArgs("resume"), { resume: true });
    assert.deepEqual(parseTaskArgs("  Resume \n"), { resume: true });
    assert.deepEqual(parseTaskArgs("resume --max-tasks 40"), { resume: true, budgets: { maxTasks: 40 } });
    assert.deepEqual(parseTaskArgs("--max-tasks 5 RESUME --max-cost=2"), { resume: true, budgets: { maxTasks: 5, maxCost: 2 } });
  });

  test("unknown flags, bad values and words after resume are refused, not taken as the goal", () => {
    assert.throws(() => parseTaskArgs("--max-task 5 Add dark mode"), /unknown option `--max-task` \(known: --max-tasks, --max-minutes, --max-tokens, --max-cost/);
    assert.throws(() => parseTaskArgs("--max-tasks ten Add dark mode"), /`--max-tasks` needs a number, not `ten`/);
    assert.throws(() => parseTaskArgs("--max-cost= Add"), /`--max-cost` needs a number$/);
    assert.throws(() => parseTaskArgs("--max-minutes"), /`--max-minutes` needs a number$/);
    assert.throws(() => parseTaskArgs("resume --max-tasks lots"), /`--max-tasks` needs a number, not `lots`/);
    assert.throws(() => parseTaskArgs("resume the parser work"), /`\/task resume` takes only budget flags, not `the`.*`\/task -- resume …`/);
  });
});

describe("plugin without a server", () => {
  test("a missing binary: the plugin loads and every tool explains how to install", async () => {
    const ws = tempWorkspace();
    const client = new FakeClient();
    const env = { PATH: "/nonexistent", HOME: ws };
    const { hooks, runtime } = await createOrchestrator(pluginInput(client, ws), {}, { env, stopOnExit: false });
    assert.equal(runtime, undefined);
    for (const name of ["cancel_task", "delegate_task", "get_task_result", "list_tasks"]) assert.ok(name in (hooks.tool ?? {}), name);
    await assert.rejects(run(hooks, "delegate_task", {}), /not installed.*cargo install --locked --path \./s);
    assert.equal(hooks.config, undefined);
    assert.ok(client.logs.some((l) => l.level === "error"));
  });

  test("a bad `bin` option names the option", async () => {
    const ws = tempWorkspace();
    const { hooks } = await createOrchestrator(pluginInput(new FakeClient(), ws), { bin: "./nope/opencode-orchestrator" }, { env: isolatedEnv(ws), stopOnExit: false });
    await assert.rejects(run(hooks, "list_tasks", {}), /plugin option `bin`.*not an executable file/);
  });

  test("OPENCODE_ORCHESTRATOR_BIN is used", async () => {
    const ws = tempWorkspace();
    const client = new FakeClient();
    const env = { ...isolatedEnv(ws), OPENCODE_ORCHESTRATOR_BIN: serverBin(), PATH: "/nonexistent" };
    const { runtime } = await createOrchestrator(pluginInput(client, ws), { standalone: true, config: scriptedConfig(ws) }, { env, stopOnExit: false });
    assert.ok(runtime);
    runtimes.push(runtime);
  });

  test("loaded twice for one project, the second copy does nothing", async () => {
    const ws = tempWorkspace();
    const first = await start({ standalone: true, config: scriptedConfig(ws) }, { bridge: false }, ws);
    const client = new FakeClient();
    const second = await createOrchestrator(pluginInput(client, ws), { bin: serverBin(), standalone: true, config: scriptedConfig(ws) }, { env: isolatedEnv(ws), stopOnExit: false });
    assert.equal(second.runtime, undefined);
    assert.deepEqual(second.hooks, {});
    assert.ok(client.logs.some((l) => l.level === "warn" && /loaded twice/.test(l.message)));
    await first.runtime.dispose();
    const third = await createOrchestrator(pluginInput(client, ws), { bin: serverBin(), standalone: true, config: scriptedConfig(ws) }, { env: isolatedEnv(ws), stopOnExit: false });
    assert.ok(third.runtime, "after dispose the project can get a server again");
    runtimes.push(third.runtime);
  });

  test("a server that refuses to start: tools say why", async () => {
    const ws = tempWorkspace();
    const { hooks, runtime } = await createOrchestrator(
      pluginInput(new FakeClient(), ws),
      { bin: serverBin(), standalone: true, config: { backend: "scripted", scheduler: { maxDepth: 99 } } },
      { env: isolatedEnv(ws), stopOnExit: false },
    );
    assert.equal(runtime, undefined);
    await assert.rejects(run(hooks, "list_tasks", {}), /maxDepth/);
  });
});

describe("plugin with the OpenCode runtime through the bridge", () => {
  test("tasks run in OpenCode sessions made with the SDK client; events come back through the event hook", async () => {
    const ws = tempWorkspace();
    const s = await start({ config: { log: scriptedConfig(ws).log } }, {}, ws);
    assert.equal(s.runtime.forwardEvents, true, "the server uses the bridge");
    const r = await run(s.hooks, "delegate_task", { agent: "researcher", description: "look around", prompt: "Find the config loader.", background: false });
    assert.equal(r.metadata.task?.status, "completed", r.output);
    assert.match(r.output, /answer to: .*Find the config loader\./s);

    const create = s.client.callsOf("session.create")[0] as { body: { title: string; parentID: string }; query: { directory: string } };
    assert.equal(create.body.parentID, "ses_parent");
    assert.equal(typeof create.body.title, "string");
    assert.equal(create.query.directory, ws);
    const prompt = s.client.callsOf("session.promptAsync")[0] as { path: { id: string }; body: { agent: string; parts: Array<{ text: string }> }; query: { directory: string } };
    assert.equal(prompt.body.agent, "researcher");
    assert.match(prompt.body.parts[0]?.text ?? "", /Find the config loader\./);
    assert.equal(prompt.query.directory, ws);

    // cancel: the running session is aborted through the bridge
    s.client.answerDelayMs = 60_000;
    const bg = await run(s.hooks, "delegate_task", { agent: "builder", description: "long", prompt: "Build it." });
    const taskId = bg.metadata.task?.taskId as string;
    await waitUntil(() => s.client.callsOf("session.promptAsync").length === 2, "the second prompt");
    const sessionId = (s.client.callsOf("session.promptAsync")[1] as { path: { id: string } }).path.id;
    s.client.emit({ type: "session.status", properties: { sessionID: sessionId, status: { type: "busy" } } });
    const cancelled = run(s.hooks, "cancel_task", { taskId });
    await waitUntil(() => s.client.callsOf("session.abort").length === 1, "the abort");
    // OpenCode announces the aborted turn
    s.client.emit({ type: "session.error", properties: { sessionID: sessionId, error: { name: "MessageAbortedError", data: { message: "Aborted" } } } });
    s.client.emit({ type: "session.idle", properties: { sessionID: sessionId } });
    const c = await cancelled;
    assert.equal(c.metadata.task?.status, "cancelled");
  });
});

describe("plugin against a fake server", () => {
  const fakeServer = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "fake-server.js");

  async function startFake(env: Record<string, string> = {}) {
    const ws = tempWorkspace();
    const client = new FakeClient();
    const { hooks, runtime } = await createOrchestrator(pluginInput(client, ws), { bin: process.execPath }, {
      env: { ...isolatedEnv(ws), ...env },
      stopOnExit: false,
      server: { args: [fakeServer] },
      gapWaitMs: 30,
    });
    assert.ok(runtime, "the fake server started");
    runtimes.push(runtime);
    client.emit = (event) => void hooks.event?.({ event: event as never });
    const received = (method: string) => runtime.server.request<unknown[]>("fake/received", { method });
    return { client, hooks, runtime, received };
  }

  test("OpenCode's events go to the server from its first bridge call, though it used HTTP at start", async () => {
    const f = await startFake();
    assert.equal(f.runtime.forwardEvents, false, "the server said it reaches OpenCode over HTTP");
    f.client.emit({ type: "session.idle", properties: { sessionID: "ses_before" } });
    assert.deepEqual(await f.received("orchestrator/opencode/event"), []);

    // The daemon lost its HTTP OpenCode and falls back to this plugin's bridge.
    const created = await f.runtime.server.request<{ id: string }>("fake/bridgeCall", { op: "session.create", params: { body: { title: "child" } } });
    assert.equal(f.runtime.forwardEvents, true);
    f.client.emit({ type: "message.updated", properties: { info: { sessionID: "ses_user", role: "user" } } });
    f.client.emit({ type: "message.updated", properties: { info: { sessionID: created.id, role: "assistant" } } });
    f.client.emit({ type: "session.idle", properties: { sessionID: created.id } });
    const got = (await f.received("orchestrator/opencode/event")) as Array<{ event: { type: string; properties: { sessionID?: string; info?: { sessionID: string } } } }>;
    assert.deepEqual(
      got.map((g) => [g.event.type, g.event.properties.sessionID ?? g.event.properties.info?.sessionID]),
      [
        ["message.updated", created.id],
        ["session.idle", created.id],
      ],
      "the user's own messages stay filtered out",
    );
  });

  test("when agents/list failed, /task and /stop are not the plugin's: nothing is intercepted", async () => {
    const f = await startFake({ FAKE_AGENTS: "fail" });
    const cfg = {} as Config;
    await f.hooks.config?.(cfg);
    assert.equal((cfg as { command?: unknown }).command, undefined);
    for (const command of ["task", "stop"]) {
      const parts = [{ type: "text", text: `their ${command}` }];
      await f.hooks["command.execute.before"]?.({ command, sessionID: "ses_1", arguments: "Add dark mode" }, { parts: parts as never });
      assert.deepEqual(parts, [{ type: "text", text: `their ${command}` }], command);
    }
    assert.deepEqual(await f.received("orchestrator/mission/start"), []);
    assert.deepEqual(await f.received("orchestrator/mission/cancel"), []);
    assert.equal(f.runtime.taskSessions.has("ses_1"), false);
  });

  test("/task resume passes its budgets; a bad flag is refused with a toast and no request", async () => {
    const f = await startFake();
    await f.hooks.config?.({});
    const before = f.hooks["command.execute.before"];
    const parts = () => [{ type: "text", text: "the template" }];
    for (const args of ["resume --max-tasks 40", "--max-tasks 40 Resume"]) {
      const p = parts();
      await before?.({ command: "task", sessionID: "ses_r", arguments: args }, { parts: p as never });
      assert.match(p[0]?.text ?? "", /The user resumed mission msn_1: the old goal/, args);
    }
    assert.deepEqual(await f.received("orchestrator/mission/resume"), [
      { sessionId: "ses_r", budgets: { maxTasks: 40 } },
      { sessionId: "ses_r", budgets: { maxTasks: 40 } },
    ]);

    const bad = parts();
    await before?.({ command: "task", sessionID: "ses_bad", arguments: "--max-task 5 Add dark mode" }, { parts: bad as never });
    assert.match(bad[0]?.text ?? "", /^\[opencode-orchestrator\] The mission could not start: unknown option `--max-task`/);
    await waitUntil(() => f.client.toasts.some((t) => t.variant === "error" && /could not start: unknown option `--max-task`/.test(t.message)), "the toast");
    assert.deepEqual(await f.received("orchestrator/mission/start"), []);
    assert.equal(f.runtime.taskSessions.has("ses_bad"), false);

    const multi = parts();
    await before?.({ command: "task", sessionID: "ses_multi", arguments: "--max-cost 2 Fix it:\n- a\n- b" }, { parts: multi as never });
    assert.deepEqual(await f.received("orchestrator/mission/start"), [{ goal: "Fix it:\n- a\n- b", sessionId: "ses_multi", prompt: false, budgets: { maxCost: 2 } }]);
  });

  test("a missing event is replayed; the live events after it wait for the replay, none is lost or repeated", async () => {
    const f = await startFake();
    const seen: number[] = [];
    f.runtime.listeners.add((e) => seen.push(e.seq));
    await f.runtime.server.request("fake/emit", { seqs: [1] });
    await waitUntil(() => seen.length === 1, "the first event");

    // 3 never comes live; 5 overtakes 4. The gap is given up after 30 ms and replayed from 2.
    await f.runtime.server.request("fake/set", { replayDelayMs: 300 });
    await f.runtime.server.request("fake/emit", { seqs: [2, 5, 4] });
    await waitUntil(async () => (await f.received("orchestrator/events/replay")).length === 1, "the replay");
    assert.deepEqual(await f.received("orchestrator/events/replay"), [{ afterSeq: 2, limit: 1000 }]);
    // Live events while the replay runs are held, whatever the gap timer says.
    await f.runtime.server.request("fake/emit", { seqs: [6] });
    await delay(100);
    assert.deepEqual(seen, [1, 2]);
    await waitUntil(() => seen.length >= 6, "the replayed and held events");
    await f.runtime.server.request("fake/emit", { seqs: [7] });
    await waitUntil(() => seen.includes(7), "live delivery after the replay");
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
  });
});
