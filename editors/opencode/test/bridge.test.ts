// The bridge ops on their own: SDK calls, their replies, and errors with the HTTP status.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { BRIDGE_OPS, CALL_TIMEOUT_MS, createBridge, type BridgeClient } from "../src/bridge.js";
import { RpcError } from "../src/rpc.js";
import { FakeClient, waitUntil } from "./helpers.js";

const DIR = "/work/project";

function setup() {
  const client = new FakeClient();
  const seen: string[] = [];
  const bridge = createBridge(client as unknown as BridgeClient, DIR, (id) => seen.push(id));
  return { client, bridge, seen };
}

const rpcError = (status: number | undefined, pattern: RegExp) => (e: unknown) =>
  e instanceof RpcError && (e.data as { status?: number }).status === status && pattern.test(e.message);

describe("bridge", () => {
  test("every op maps to its SDK method with the project directory", async () => {
    const { client, bridge, seen } = setup();
    const session = (await bridge.handle({ op: "session.create", params: { body: { title: "child (builder)", parentID: "ses_p" } } })) as { id: string };
    assert.match(session.id, /^ses_fake/);
    const id = session.id;
    assert.equal(await bridge.handle({ op: "session.promptAsync", params: { sessionID: id, body: { parts: [{ type: "text", text: "go" }], agent: "builder", tools: { task: false } } } }), null);
    assert.deepEqual(await bridge.handle({ op: "session.status", params: {} }), { [id]: { type: "busy" } });
    assert.deepEqual(await bridge.handle({ op: "session.get", params: { sessionID: id } }), { id, title: "child (builder)", parentID: "ses_p" });
    await waitUntil(() => client.sessions.get(id)?.busy === false, "the fake answer");
    const messages = (await bridge.handle({ op: "session.messages", params: { sessionID: id } })) as Array<{ info: { role: string }; parts: unknown[] }>;
    assert.deepEqual(messages.map((m) => m.info.role), ["user", "assistant"]);
    assert.equal(await bridge.handle({ op: "session.abort", params: { sessionID: id } }), true);
    assert.equal(await bridge.handle({ op: "session.delete", params: { sessionID: id } }), true);

    const methods = client.calls.map((c) => c.method);
    assert.deepEqual(methods, ["session.create", "session.promptAsync", "session.status", "session.get", "session.messages", "session.abort", "session.delete"]);
    assert.deepEqual([...methods].sort(), [...BRIDGE_OPS].sort(), "every op was used");
    for (const c of client.calls) assert.deepEqual(c.options.query, { directory: DIR }, c.method);
    const prompt = client.callsOf("session.promptAsync")[0] as { path: { id: string }; body: Record<string, unknown> };
    assert.deepEqual(prompt.path, { id });
    assert.deepEqual(prompt.body, { parts: [{ type: "text", text: "go" }], agent: "builder", tools: { task: false } });
    assert.deepEqual(client.callsOf("session.create")[0]?.body, { title: "child (builder)", parentID: "ses_p" });
    assert.ok(seen.includes(id), "the session is known as a task session");
  });

  test("a missing session is an error with data.status 404", async () => {
    const { bridge } = setup();
    for (const op of ["session.get", "session.messages", "session.abort", "session.delete", "session.promptAsync"]) {
      await assert.rejects(
        bridge.handle({ op, params: { sessionID: "ses_gone", body: { parts: [] } } }),
        rpcError(404, /HTTP 404.*Session not found: ses_gone/),
        op,
      );
    }
  });

  test("thrown SDK errors keep their status; transport failures have none", async () => {
    const client = {
      session: {
        get: () => Promise.reject(new Error("Session not found", { cause: { status: 404, body: { name: "NotFoundError" } } })),
        status: () => Promise.reject(new TypeError("fetch failed")),
      },
    } as unknown as BridgeClient;
    const bridge = createBridge(client, DIR);
    await assert.rejects(bridge.handle({ op: "session.get", params: { sessionID: "x" } }), rpcError(404, /OpenCode session.get failed/));
    await assert.rejects(bridge.handle({ op: "session.status", params: {} }), rpcError(undefined, /fetch failed/));
  });

  test("a call OpenCode never answers is answered with an error before the server gives up", async () => {
    const client = { session: { status: () => new Promise(() => undefined) } } as unknown as BridgeClient;
    const bridge = createBridge(client, DIR, undefined, 30);
    await assert.rejects(bridge.handle({ op: "session.status", params: {} }), (e: unknown) => e instanceof RpcError && e.code === -32000 && /^OpenCode session\.status failed: no answer within 0\.03 s$/.test(e.message) && (e.data as { op?: string }).op === "session.status");
    assert.ok(CALL_TIMEOUT_MS < 30_000, "sooner than the server's 30 s");
  });

  test("bad requests: unknown op, missing sessionID, no params", async () => {
    const { bridge } = setup();
    await assert.rejects(bridge.handle({ op: "session.fork", params: {} }), (e: unknown) => e instanceof RpcError && e.code === -32601);
    await assert.rejects(bridge.handle({ op: "session.get", params: {} }), (e: unknown) => e instanceof RpcError && e.code === -32602);
    await assert.rejects(bridge.handle(undefined), (e: unknown) => e instanceof RpcError && e.code === -32602);
  });
});

