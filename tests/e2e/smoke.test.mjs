// Smoke tests of the e2e harness: a real OpenCode (opencode-ai, pinned) whose
// only fake is the scripted model of lib/fake-model.mjs.
//
// One long-lived `opencode serve` is shared by the tests of the "serve"
// suite (starting one costs ~1.5-2.5 s and ~400 MB); `opencode run` gets its own.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { lastUserText, startFakeModel, toolResults, hasTool, toolNames } from "./lib/fake-model.mjs";
import {
  createSession,
  ev,
  isFinishedAssistant,
  lastAssistant,
  makePluginDir,
  messageText,
  promptAndWait,
  runOpencode,
  sessionMessages,
  startOpencodeServe,
  toolParts,
  waitForEvent,
  waitUntil,
  writePlugin,
} from "./lib/opencode.mjs";

const PING_PLUGIN = `
import fs from "node:fs";
import { tool } from "@opencode-ai/plugin";

export const PingPlugin = async (input, options) => {
  const eventsFile = options?.eventsFile;
  return {
    tool: {
      ping: tool({
        description: "Answers pong. Use it when asked to ping.",
        args: { note: tool.schema.string().describe("anything").optional() },
        async execute(args, ctx) {
          return "pong";
        },
      }),
    },
    async event({ event }) {
      if (eventsFile) fs.appendFileSync(eventsFile, event.type + "\\n");
    },
  };
};
`;

describe("opencode serve + fake model", () => {
  /** @type {Awaited<ReturnType<typeof startFakeModel>>} */
  let model;
  /** @type {Awaited<ReturnType<typeof startOpencodeServe>>} */
  let oc;
  let pluginDir;
  let eventsFile;

  before(async () => {
    model = await startFakeModel();
    pluginDir = makePluginDir();
    eventsFile = path.join(pluginDir, "events.txt");
    const pluginFile = writePlugin(PING_PLUGIN, { dir: pluginDir, name: "ping-plugin.mjs" });
    oc = await startOpencodeServe({
      modelPort: model.port,
      plugins: [[pluginFile, { eventsFile }]],
      files: { "hello.txt": "hello from the e2e project\n" },
    });
    console.log(`# opencode serve listening after ${oc.startMs} ms at ${oc.url}`);
  });

  after(async () => {
    await oc?.stop();
    await model?.close();
    if (pluginDir) fs.rmSync(pluginDir, { recursive: true, force: true });
  });

  test("(a) prompt_async -> session.idle -> assistant text is the fake's reply", { timeout: 60000 }, async () => {
    const health = await fetch(`${oc.url}/global/health`).then((r) => r.json());
    assert.deepEqual(health, { healthy: true, version: "1.18.33" });

    model.on((req) => lastUserText(req).includes("say hello"), { text: "Hello from the fake model!" });
    const session = await createSession(oc.client, {});
    assert.match(session.id, /^ses_/);

    const from = oc.events.length;
    const res = await oc.client.session.promptAsync({
      path: { id: session.id },
      body: { parts: [{ type: "text", text: "please say hello" }] },
    });
    // 204 with an empty body; the v1 SDK turns that into data = {}
    assert.equal(res.response.status, 204);
    assert.deepEqual(res.data, {});

    await oc.waitForEvent(ev.idle(session.id), { from, timeoutMs: 30000 });
    const seq = oc.events
      .slice(from)
      .filter((e) => ev.forSession(session.id)(e))
      .map((e) => (e.type === "session.status" ? `session.status:${e.properties.status.type}` : e.type));
    // busy before idle, idle last among statuses, a finished assistant message.updated before session.idle
    const iBusy = seq.indexOf("session.status:busy");
    const iIdle = seq.indexOf("session.idle");
    assert.ok(iBusy >= 0 && iBusy < iIdle, seq.join(","));
    assert.equal(seq[iIdle - 1], "session.status:idle", seq.join(","));
    const finished = oc.events
      .slice(from, from + oc.events.slice(from).findIndex(ev.idle(session.id)))
      .find((e) => e.type === "message.updated" && isFinishedAssistant(e.properties.info));
    assert.ok(finished, "a finished assistant message.updated precedes session.idle");
    assert.equal(finished.properties.info.finish, "stop");

    const messages = await sessionMessages(oc.client, session.id);
    assert.equal(messages.length, 2);
    const a = lastAssistant(messages);
    assert.equal(messageText(a), "Hello from the fake model!");
    assert.equal(a.info.finish, "stop");
    assert.ok(a.info.time.completed >= a.info.time.created);
    assert.equal(a.info.providerID, "fake");
    assert.equal(a.info.modelID, "fake-model");
    assert.equal(a.info.agent, "build");

    // the untitled session got exactly one title request, answered automatically
    await oc.waitForEvent((e) => e.type === "session.updated" && e.properties.info?.id === session.id && e.properties.info.title === "E2E session", { timeoutMs: 10000 });
    const titles = model.titleRequests().filter((r) => lastUserText(r.body).includes("please say hello"));
    assert.equal(titles.length, 1);
  });

  test("(b) a built-in tool call (read) round trip", { timeout: 60000 }, async () => {
    const file = path.join(oc.dir, "hello.txt");
    model.on(
      (req) => lastUserText(req).includes("read the hello file") && toolResults(req).length === 0,
      { toolCalls: [{ name: "read", arguments: { filePath: file } }] },
    );
    model.on(
      (req) => lastUserText(req).includes("read the hello file") && toolResults(req).length > 0,
      (req) => ({ text: `The file says: ${toolResults(req).at(-1).content.includes("hello from the e2e project") ? "hello" : "??"}` }),
    );
    const session = await createSession(oc.client, { title: "tool call" });
    const r = await promptAndWait(oc, session.id, "read the hello file");
    assert.equal(r.error, undefined);
    assert.equal(r.text, "The file says: hello");

    const tools = toolParts(r.messages);
    assert.equal(tools.length, 1);
    assert.equal(tools[0].tool, "read");
    assert.equal(tools[0].state.status, "completed");
    assert.deepEqual(tools[0].state.input, { filePath: file });
    assert.match(tools[0].state.output, /hello from the e2e project/);
    // two assistant messages: one finished with tool-calls, the last with stop
    const assistants = r.messages.filter((m) => m.info.role === "assistant");
    assert.deepEqual(assistants.map((m) => m.info.finish), ["tool-calls", "stop"]);
    // the second model request carried the tool result under the call's id
    const chat = model.chatRequests().filter((q) => lastUserText(q.body).includes("read the hello file"));
    assert.equal(chat.length, 2);
    const [res] = toolResults(chat[1].body);
    assert.equal(res.tool_call_id, tools[0].callID);
  });

  test("(c) a titled child session prompted with a built-in agent", { timeout: 60000 }, async () => {
    const parent = await createSession(oc.client, { title: "parent" });
    const child = await createSession(oc.client, { parentID: parent.id, title: "child: explore" });
    assert.equal(child.parentID, parent.id);
    assert.equal(child.title, "child: explore");

    const titlesBefore = model.titleRequests().length;
    model.on((req) => lastUserText(req).includes("child work"), { text: "child done" });
    const r = await promptAndWait(oc, child.id, { agent: "general", parts: [{ type: "text", text: "child work" }] });
    assert.equal(r.text, "child done");
    assert.equal(r.assistant.info.agent, "general");

    const kids = (await oc.client.session.children({ path: { id: parent.id } })).data;
    assert.deepEqual(kids.map((s) => s.id), [child.id]);
    assert.equal(kids[0].title, "child: explore");
    // a session created with a title causes no title request
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(model.titleRequests().length, titlesBefore);
    const child2 = (await oc.client.session.get({ path: { id: child.id } })).data;
    assert.equal(child2.title, "child: explore");
  });

  test("(d) a plugin tool (ping) and event hook", { timeout: 60000 }, async () => {
    model.on(
      (req) => lastUserText(req).includes("ping it") && toolResults(req).length === 0,
      { toolCalls: [{ name: "ping", arguments: { note: "hi" } }] },
    );
    model.on(
      (req) => lastUserText(req).includes("ping it") && toolResults(req).length > 0,
      (req) => ({ text: `got ${toolResults(req).at(-1).content}` }),
    );
    const session = await createSession(oc.client, { title: "plugin" });
    const r = await promptAndWait(oc, session.id, "ping it");
    assert.equal(r.text, "got pong");

    const chat = model.chatRequests().filter((q) => lastUserText(q.body).includes("ping it"));
    assert.equal(chat.length, 2);
    assert.ok(hasTool(chat[0].body, "ping"), toolNames(chat[0].body).join(","));
    const def = chat[0].body.tools.find((t) => t.function.name === "ping");
    assert.equal(def.function.parameters.properties.note.type, "string");
    const results = toolResults(chat[1].body);
    assert.equal(results.length, 1);
    assert.equal(results[0].content, "pong");
    const [part] = toolParts(r.messages);
    assert.equal(part.tool, "ping");
    assert.equal(part.state.status, "completed");
    assert.equal(part.state.output, "pong");

    // the event hook saw session.idle (it may run a little after the HTTP event)
    const start = Date.now();
    let lines = [];
    while (Date.now() - start < 5000) {
      lines = fs.existsSync(eventsFile) ? fs.readFileSync(eventsFile, "utf8").split("\n") : [];
      if (lines.includes("session.idle")) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(lines.includes("session.idle"), lines.slice(-20).join(","));
    assert.ok(lines.includes("message.updated"));
  });

  test("(f) two 429s then success: OpenCode retries by itself", { timeout: 60000 }, async () => {
    let n = 0;
    model.on((req) => lastUserText(req).includes("rate limited"), () => (++n <= 2 ? { error: 429 } : { text: "finally" }));
    const session = await createSession(oc.client, { title: "429" });
    const from = oc.events.length;
    const t0 = Date.now();
    const r = await promptAndWait(oc, session.id, "rate limited please", { timeoutMs: 45000 });
    const took = Date.now() - t0;
    assert.equal(r.text, "finally");
    assert.equal(r.error, undefined, "no session.error when a retry succeeds");
    assert.equal(r.assistant.info.error, undefined);
    assert.equal(r.assistant.info.finish, "stop");
    const chat = model.chatRequests().filter((q) => lastUserText(q.body).includes("rate limited"));
    assert.deepEqual(chat.map((q) => q.status), [429, 429, 200]);
    const retries = oc.events
      .slice(from)
      .filter((e) => ev.status(session.id, "retry")(e))
      .map((e) => e.properties.status);
    assert.deepEqual(retries.map((s) => s.attempt), [1, 2]);
    for (const s of retries) {
      assert.equal(s.message, "Rate limit reached for fake-model");
      assert.equal(typeof s.next, "number");
    }
    // only one assistant message: the retries happen inside it
    assert.equal(r.messages.filter((m) => m.info.role === "assistant").length, 1);
    // waits grow: ~2 s then ~4 s without a retry-after header
    const gap1 = chat[1].time - chat[0].time;
    const gap2 = chat[2].time - chat[1].time;
    console.log(`# 429 x2: retry gaps ${gap1} ms, ${gap2} ms; prompt to idle ${took} ms`);
    assert.ok(gap1 >= 1500 && gap2 > gap1, `gaps ${gap1}, ${gap2}`);
  });

  test("(f2) persistent 429 with retry-after-ms: 6 attempts, then session.error APIError", { timeout: 60000 }, async () => {
    model.on((req) => lastUserText(req).includes("always limited"), { error: 429, headers: { "retry-after-ms": "20" } });
    const session = await createSession(oc.client, { title: "429 forever" });
    const r = await promptAndWait(oc, session.id, "always limited");
    const chat = model.chatRequests().filter((q) => lastUserText(q.body).includes("always limited"));
    assert.equal(chat.length, 6);
    assert.ok(r.error, "session.error fired");
    const err = r.error.properties.error;
    assert.equal(err.name, "APIError");
    assert.equal(err.data.statusCode, 429);
    assert.equal(err.data.isRetryable, true);
    assert.equal(err.data.message, "Rate limit reached for fake-model");
    assert.match(err.data.responseBody, /rate_limit_exceeded/);
    // the assistant message carries the same error (it may be written just after session.idle)
    const info = await waitForAssistantError(session.id);
    assert.equal(info.error.name, "APIError");
    assert.ok(info.time.completed);
    assert.equal(info.finish, undefined);
  });

  test("abort: POST /session/:id/abort -> MessageAbortedError", { timeout: 60000 }, async () => {
    let release;
    const gate = new Promise((res) => (release = res));
    model.on((req) => lastUserText(req).includes("never answered"), async () => {
      await gate;
      return { text: "too late" };
    });
    const session = await createSession(oc.client, { title: "abort" });
    const from = oc.events.length;
    const reqIndex = model.requests.length;
    await oc.client.session.promptAsync({ path: { id: session.id }, body: { parts: [{ type: "text", text: "never answered" }] } });
    const entry = await model.waitForRequest((b) => lastUserText(b).includes("never answered"), { from: reqIndex, timeoutMs: 15000 });
    const ab = await oc.client.session.abort({ path: { id: session.id } });
    assert.equal(ab.data, true);
    const errEv = await oc.waitForEvent(ev.error(session.id), { from, timeoutMs: 10000 });
    assert.deepEqual(errEv.properties.error, { name: "MessageAbortedError", data: { message: "Aborted" } });
    await oc.waitForEvent(ev.idle(session.id), { from, timeoutMs: 10000 });
    release();
    // OpenCode hung up on the model request; the late reply was never sent
    await waitUntil(() => entry.clientAborted, { timeoutMs: 5000, what: "clientAborted" });
    const info = await waitForAssistantError(session.id);
    assert.equal(info.error.name, "MessageAbortedError");
    assert.ok(info.time.completed);
  });

  test("waitForEvent(url, ...) sees events after it connects", { timeout: 60000 }, async () => {
    const session = await createSession(oc.client, { title: "standalone stream" });
    const p = waitForEvent(oc.url, ev.idle(session.id), 30000, { directory: oc.dir });
    await new Promise((res) => setTimeout(res, 200)); // let it connect
    await oc.client.session.promptAsync({ path: { id: session.id }, body: { parts: [{ type: "text", text: "anything" }] } });
    const e = await p;
    assert.equal(e.properties.sessionID, session.id);
  });

  async function waitForAssistantError(sessionID) {
    const end = Date.now() + 5000;
    for (;;) {
      const a = lastAssistant(await sessionMessages(oc.client, sessionID));
      if (a?.info.error) return a.info;
      if (Date.now() > end) throw new Error(`no error on the assistant message of ${sessionID}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
});

describe("opencode run + fake model", () => {
  let model;
  before(async () => {
    model = await startFakeModel();
  });
  after(async () => {
    await model?.close();
  });

  test("(e) opencode run answers and exits 0; the prompt arrives exactly", { timeout: 90000 }, async () => {
    const prompt = 'run  mode "quoted" prompt';
    model.on((req) => lastUserText(req) === prompt, { text: "RUN-REPLY-42" });
    const r = await runOpencode({ prompt, modelPort: model.port, timeoutMs: 60000 });
    console.log(`# opencode run took ${r.durationMs} ms`);
    assert.equal(r.timedOut, false, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /RUN-REPLY-42/);
    const chat = model.chatRequests();
    assert.equal(chat.length, 1);
    assert.equal(lastUserText(chat[0].body), prompt);
  });
});
