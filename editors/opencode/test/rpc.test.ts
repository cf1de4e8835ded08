// The JSON-RPC client over in-memory streams: framing, replies, timeouts, aborts,
// server-to-client requests.

import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";

import {
  ConnectionClosedError,
  FrameDecoder,
  RequestAbortedError,
  RequestTimeoutError,
  RpcConnection,
  RpcError,
  encodeFrame,
} from "../src/rpc.js";

/** A connection plus the "server" end: what the client wrote, and a way to send it frames. */
function pair() {
  const toClient = new PassThrough();
  const fromClient = new PassThrough();
  const conn = new RpcConnection(toClient, fromClient, { timeoutMs: 2000 });
  const sent: Array<Record<string, unknown>> = [];
  const decoder = new FrameDecoder(() => undefined);
  const waiters: Array<() => void> = [];
  fromClient.on("data", (chunk: Buffer) => {
    for (const body of decoder.push(chunk)) sent.push(JSON.parse(body.toString("utf8")) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  const nextSent = async (n: number): Promise<Record<string, unknown>> => {
    while (sent.length < n) await new Promise<void>((r) => waiters.push(r));
    return sent[n - 1] as Record<string, unknown>;
  };
  const reply = (msg: unknown) => toClient.write(encodeFrame(msg));
  return { conn, sent, nextSent, reply, toClient };
}

describe("FrameDecoder", () => {
  test("splits frames across and within chunks, with any header case and bare LF", () => {
    const errors: string[] = [];
    const d = new FrameDecoder((m) => errors.push(m));
    const a = encodeFrame({ a: 1 });
    const b = Buffer.from('content-length: 7\nContent-Type: x\n\n{"b":2}');
    const all = Buffer.concat([a, b, encodeFrame({ c: "é" })]);
    const bodies: string[] = [];
    for (let i = 0; i < all.length; i += 3) for (const body of d.push(all.subarray(i, i + 3))) bodies.push(body.toString());
    assert.deepEqual(bodies, ['{"a":1}', '{"b":2}', '{"c":"é"}']);
    assert.deepEqual(errors, []);
  });

  test("skips a header without Content-Length and goes on", () => {
    const errors: string[] = [];
    const d = new FrameDecoder((m) => errors.push(m));
    const bodies = d.push(Buffer.concat([Buffer.from("X-Nothing: 1\r\n\r\n"), encodeFrame({ ok: true })]));
    assert.deepEqual(bodies.map(String), ['{"ok":true}']);
    assert.equal(errors.length, 1);
  });
});

describe("RpcConnection", () => {
  test("matches replies to requests by id, in any order", async () => {
    const { conn, nextSent, reply } = pair();
    const p1 = conn.request("one", { x: 1 });
    const p2 = conn.request("two");
    const m1 = await nextSent(1);
    const m2 = await nextSent(2);
    assert.equal(m1.method, "one");
    assert.deepEqual(m1.params, { x: 1 });
    assert.equal("params" in m2, false);
    reply({ jsonrpc: "2.0", id: m2.id, result: "second" });
    reply({ jsonrpc: "2.0", id: m1.id, result: { first: true } });
    assert.deepEqual(await p1, { first: true });
    assert.equal(await p2, "second");
    assert.equal(conn.pendingCount, 0);
  });

  test("an error reply rejects with RpcError carrying code, message and data", async () => {
    const { conn, nextSent, reply } = pair();
    const p = conn.request("bad");
    const m = await nextSent(1);
    reply({ jsonrpc: "2.0", id: m.id, error: { code: -32602, message: "field x", data: { kind: "invalid_params" } } });
    await assert.rejects(p, (e: unknown) => e instanceof RpcError && e.code === -32602 && e.message === "field x" && e.kind === "invalid_params");
  });

  test("a request times out, is forgotten and cancelled on the server", async () => {
    const { conn, nextSent, reply } = pair();
    const p = conn.request("slow", {}, { timeoutMs: 50 });
    const m = await nextSent(1);
    await assert.rejects(p, RequestTimeoutError);
    const cancel = await nextSent(2);
    assert.equal(cancel.method, "$/cancelRequest");
    assert.deepEqual(cancel.params, { id: m.id });
    reply({ jsonrpc: "2.0", id: m.id, result: "late" }); // ignored
    assert.equal(conn.pendingCount, 0);
  });

  test("an abort signal stops waiting", async () => {
    const { conn, nextSent } = pair();
    const ac = new AbortController();
    const p = conn.request("wait", {}, { signal: ac.signal, timeoutMs: 0 });
    await nextSent(1);
    ac.abort();
    await assert.rejects(p, RequestAbortedError);
    assert.equal((await nextSent(2)).method, "$/cancelRequest");
    await assert.rejects(conn.request("x", {}, { signal: ac.signal }), RequestAbortedError);
  });

  test("answers the server's requests with a result, an error, or method not found", async () => {
    const { conn, nextSent, reply } = pair();
    conn.onRequest("sum", (p) => {
      const { a, b } = p as { a: number; b: number };
      return a + b;
    });
    conn.onRequest("later", async () => {
      await new Promise((r) => setTimeout(r, 10));
      return undefined;
    });
    conn.onRequest("fails", () => {
      throw new RpcError(-32000, "nope", { status: 404 });
    });
    conn.onRequest("throws", () => Promise.reject(new Error("plain")));
    reply({ jsonrpc: "2.0", id: 0, method: "sum", params: { a: 2, b: 3 } });
    reply({ jsonrpc: "2.0", id: "s1", method: "later" });
    reply({ jsonrpc: "2.0", id: 2, method: "fails" });
    reply({ jsonrpc: "2.0", id: 3, method: "throws" });
    reply({ jsonrpc: "2.0", id: 4, method: "nobody" });
    const replies = [await nextSent(1), await nextSent(2), await nextSent(3), await nextSent(4), await nextSent(5)];
    const byId = new Map(replies.map((r) => [r.id, r]));
    assert.deepEqual(byId.get(0), { jsonrpc: "2.0", id: 0, result: 5 });
    assert.deepEqual(byId.get("s1"), { jsonrpc: "2.0", id: "s1", result: null });
    assert.deepEqual(byId.get(2), { jsonrpc: "2.0", id: 2, error: { code: -32000, message: "nope", data: { status: 404 } } });
    assert.deepEqual(byId.get(3), { jsonrpc: "2.0", id: 3, error: { code: -32603, message: "plain" } });
    assert.equal((byId.get(4)?.error as { code: number }).code, -32601);
  });

  test("notifications reach their handler; a throwing handler does not break the stream", async () => {
    const { conn, reply } = pair();
    const got: unknown[] = [];
    conn.onNotification("boom", () => {
      throw new Error("handler bug");
    });
    conn.onNotification("note", (p) => got.push(p));
    reply({ jsonrpc: "2.0", method: "boom", params: {} });
    reply({ jsonrpc: "2.0", method: "note", params: { n: 1 } });
    reply({ jsonrpc: "2.0", method: "unhandled" });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(got, [{ n: 1 }]);
  });

  test("closing rejects what waits and what comes", async () => {
    const { conn, nextSent, toClient } = pair();
    const p = conn.request("x");
    await nextSent(1);
    toClient.end();
    await assert.rejects(p, ConnectionClosedError);
    await assert.rejects(conn.request("y"), ConnectionClosedError);
    assert.equal(conn.closed, true);
  });
});
