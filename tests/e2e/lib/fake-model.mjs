// A scripted OpenAI-compatible chat-completions server: the only fake in the
// end-to-end tests. OpenCode talks to it through its built-in
// `@ai-sdk/openai-compatible` provider (see lib/opencode.mjs).
//
//   const model = await startFakeModel();
//   model.on((req) => lastUserText(req).includes("read"), () => ({
//     toolCalls: [{ name: "read", arguments: { filePath: "/abs/file" } }],
//   }), { once: true });
//   ...
//   await model.close();
//
// A responder returns (or resolves to) one of
//   { text }                              streamed as content deltas, finish "stop"
//   { toolCalls: [{ name, arguments }] }  streamed as tool_calls deltas, finish "tool_calls"
//   { text, toolCalls }                   content first, then the tool calls
//   { error: 429, body?, headers? }       an HTTP error with a JSON body
//   { reasoning }                         optional, streamed as reasoning_content before text
// each optionally with { delayMs } (wait before answering), { chunkSize,
// chunkDelayMs } (pace the stream) and { usage } (override the token counts).

import http from "node:http";

/** Text of a message `content` (a string or an array of parts). */
export function contentText(content) {
  if (content == null) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (typeof p === "string" ? p : p && typeof p.text === "string" ? p.text : ""))
      .join("");
  }
  return "";
}

/** Text of the last `role: user` message of a request body. */
export function lastUserText(req) {
  const msgs = req?.messages ?? [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i].role === "user") return contentText(msgs[i].content);
  }
  return "";
}

/** All `role: system` messages of a request body, joined with "\n". */
export function systemText(req) {
  return (req?.messages ?? [])
    .filter((m) => m.role === "system")
    .map((m) => contentText(m.content))
    .join("\n");
}

/** The `role: tool` messages of a request body: [{ tool_call_id, name?, content }]. */
export function toolResults(req) {
  return (req?.messages ?? [])
    .filter((m) => m.role === "tool")
    .map((m) => ({ ...m, content: contentText(m.content) }));
}

/** Names of the tools offered in a request body. */
export function toolNames(req) {
  return (req?.tools ?? []).map((t) => t?.function?.name ?? t?.name).filter(Boolean);
}

/** Whether the request offers a tool called `name`. */
export function hasTool(req, name) {
  return toolNames(req).includes(name);
}

/** The assistant tool calls already in the history: [{ id, name, arguments(object|string) }]. */
export function toolCallsInHistory(req) {
  const out = [];
  for (const m of req?.messages ?? []) {
    if (m.role !== "assistant" || !Array.isArray(m.tool_calls)) continue;
    for (const c of m.tool_calls) {
      let args = c.function?.arguments;
      try {
        args = JSON.parse(args);
      } catch {}
      out.push({ id: c.id, name: c.function?.name, arguments: args });
    }
  }
  return out;
}

/** Whether a request is OpenCode's automatic title-generation request. */
export function isTitleRequest(req) {
  const sys = systemText(req).trimStart();
  if (sys.startsWith("You are a title generator")) return true;
  const noTools = !Array.isArray(req?.tools) || req.tools.length === 0;
  return noTools && /title generator/i.test(sys);
}

const DEFAULT_USAGE = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };

function toMatcher(m) {
  if (m == null || m === true) return () => true;
  if (typeof m === "function") return m;
  if (typeof m === "string") return (req) => lastUserText(req).includes(m);
  if (m instanceof RegExp) return (req) => m.test(lastUserText(req));
  throw new TypeError("matcher must be a function, string, RegExp, true or null");
}

function splitPieces(s, size) {
  if (!s) return [];
  const n = Math.max(1, size | 0);
  const out = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (!ms || ms <= 0) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

/**
 * Start the fake model on 127.0.0.1 (a free port).
 * @param {object} [opts]
 * @param {string} [opts.title]  the answer to title requests ("E2E session")
 * @param {boolean} [opts.autoTitle]  answer title requests automatically (true); when false they go through the rules
 * @param {object|function} [opts.defaultResponse]  what unmatched requests get ({ text: "ok" })
 * @param {number} [opts.port]  a fixed port (0: a free one)
 */
export async function startFakeModel(opts = {}) {
  const titleText = opts.title ?? "E2E session";
  const autoTitle = opts.autoTitle ?? true;
  let defaultResponse = opts.defaultResponse ?? { text: "ok" };
  /** @type {Array<{matcher: Function, responder: any, once: boolean, hits: number, id: number, removed?: boolean}>} */
  let rules = [];
  const requests = [];
  const waiters = new Set();
  let ruleSeq = 0;
  let callSeq = 0;
  let closing = false;
  const inflight = new Set(); // AbortControllers of responses being produced

  function notify() {
    for (const w of [...waiters]) {
      const hit = requests.find((r, i) => i >= w.from && safeMatch(w.pred, r));
      if (hit) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(hit);
      }
    }
  }

  function safeMatch(pred, r) {
    try {
      return !!pred(r.body, r);
    } catch {
      return false;
    }
  }

  async function pickResponse(body, entry) {
    if (entry.isTitle && autoTitle) return { text: titleText };
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i];
      let ok = false;
      try {
        ok = !!(await rule.matcher(body, entry));
      } catch (e) {
        entry.matcherError = String(e?.stack ?? e);
      }
      if (!ok || rule.removed) continue;
      rule.hits++;
      if (rule.once) {
        rule.removed = true;
        rules = rules.filter((r) => r !== rule);
      }
      entry.rule = rule.id;
      const r = typeof rule.responder === "function" ? await rule.responder(body, entry) : rule.responder;
      return r ?? { text: "" };
    }
    return typeof defaultResponse === "function" ? await defaultResponse(body, entry) : defaultResponse;
  }

  function chunk(body, id, created, delta, finish, usage) {
    const c = {
      id,
      object: "chat.completion.chunk",
      created,
      model: body.model ?? "fake-model",
      choices: [{ index: 0, delta, finish_reason: finish ?? null }],
    };
    if (usage) c.usage = usage;
    return `data: ${JSON.stringify(c)}\n\n`;
  }

  async function respond(req, res, body, entry) {
    const ac = new AbortController();
    inflight.add(ac);
    res.on("close", () => ac.abort());
    try {
      let r;
      try {
        r = await pickResponse(body, entry);
      } catch (e) {
        r = { error: 500, body: { error: { message: `fake model responder threw: ${e?.message ?? e}`, type: "server_error" } } };
        entry.responderError = String(e?.stack ?? e);
      }
      r = r ?? { text: "" };
      entry.response = r;
      await sleep(r.delayMs, ac.signal);
      if (ac.signal.aborted || res.destroyed) {
        entry.clientAborted = true;
        return;
      }
      if (r.error) {
        const status = typeof r.error === "number" ? r.error : 500;
        const payload =
          r.body ??
          {
            error: {
              message: status === 429 ? "Rate limit reached for fake-model" : `fake model error ${status}`,
              type: status === 429 ? "rate_limit_error" : "server_error",
              code: status === 429 ? "rate_limit_exceeded" : String(status),
            },
          };
        const text = typeof payload === "string" ? payload : JSON.stringify(payload);
        res.writeHead(status, { "content-type": "application/json", ...(r.headers ?? {}) });
        res.end(text);
        entry.status = status;
        return;
      }
      const usage = { ...DEFAULT_USAGE, ...(r.usage ?? {}) };
      const calls = (r.toolCalls ?? []).map((c) => ({
        id: c.id ?? `call_${++callSeq}`,
        name: c.name,
        args: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments ?? {}),
      }));
      const id = `chatcmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
      const created = Math.floor(Date.now() / 1000);
      if (body.stream === false) {
        const message = { role: "assistant", content: r.text ?? (calls.length ? null : "") };
        if (calls.length)
          message.tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.args } }));
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id,
            object: "chat.completion",
            created,
            model: body.model ?? "fake-model",
            choices: [{ index: 0, message, finish_reason: calls.length ? "tool_calls" : "stop" }],
            usage,
          }),
        );
        entry.status = 200;
        return;
      }
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      entry.status = 200;
      const size = r.chunkSize ?? 8;
      const pace = r.chunkDelayMs ?? 0;
      const write = async (s) => {
        if (res.destroyed) return false;
        res.write(s);
        if (pace) await sleep(pace, ac.signal);
        return !res.destroyed;
      };
      if (!(await write(chunk(body, id, created, { role: "assistant", content: "" })))) return;
      for (const piece of splitPieces(r.reasoning ?? "", size)) {
        if (!(await write(chunk(body, id, created, { reasoning_content: piece })))) return;
      }
      for (const piece of splitPieces(r.text ?? "", size)) {
        if (!(await write(chunk(body, id, created, { content: piece })))) return;
      }
      for (let i = 0; i < calls.length; i++) {
        const c = calls[i];
        const head = { tool_calls: [{ index: i, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] };
        if (!(await write(chunk(body, id, created, head)))) return;
        for (const piece of splitPieces(c.args, Math.max(4, Math.ceil(c.args.length / 3)))) {
          const d = { tool_calls: [{ index: i, function: { arguments: piece } }] };
          if (!(await write(chunk(body, id, created, d)))) return;
        }
      }
      const finish = calls.length ? "tool_calls" : "stop";
      if (!(await write(chunk(body, id, created, {}, finish, usage)))) return;
      res.end("data: [DONE]\n\n");
      entry.finished = Date.now();
    } finally {
      inflight.delete(ac);
    }
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("error", () => {});
    res.on("error", () => {});
    req.on("end", () => {
      const url = new URL(req.url, "http://x");
      if (req.method === "GET" && /\/models\/?$/.test(url.pathname)) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "fake-model", object: "model", owned_by: "e2e" }] }));
        return;
      }
      if (req.method !== "POST" || !/\/chat\/completions\/?$/.test(url.pathname)) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `fake model: no route ${req.method} ${url.pathname}`, type: "not_found" } }));
        return;
      }
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch (e) {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `fake model: bad JSON: ${e.message}`, type: "invalid_request_error" } }));
        return;
      }
      const entry = { time: Date.now(), path: url.pathname, body, isTitle: isTitleRequest(body) };
      requests.push(entry);
      notify();
      respond(req, res, body, entry).catch((e) => {
        entry.responderError = String(e?.stack ?? e);
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { message: String(e?.message ?? e), type: "server_error" } }));
        } else res.end();
      });
    });
  });
  server.keepAliveTimeout = 1000;

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = server.address().port;

  const model = {
    port,
    /** Base URL to configure as the provider's baseURL. */
    url: `http://127.0.0.1:${port}/v1`,
    /** Every request received, in order: { time, path, body, isTitle, rule?, response?, status? }. */
    requests,
    /** Requests that were not title requests. */
    chatRequests: () => requests.filter((r) => !r.isTitle),
    /** Title requests. */
    titleRequests: () => requests.filter((r) => r.isTitle),
    /**
     * Add a rule. Rules are checked most recent first.
     * @param {Function|string|RegExp|true|null} matcher  (body, entry) => bool; a string/RegExp tests lastUserText
     * @param {object|Function} responder  a response object or (body, entry) => response (may be async)
     * @param {{once?: boolean}} [o]
     */
    on(matcher, responder, o = {}) {
      const rule = { id: ++ruleSeq, matcher: toMatcher(matcher), responder, once: !!o.once, hits: 0 };
      rules.push(rule);
      return {
        get hits() {
          return rule.hits;
        },
        remove() {
          rule.removed = true;
          rules = rules.filter((r) => r !== rule);
        },
      };
    },
    /** Shorthand for on(matcher, responder, { once: true }). */
    once(matcher, responder) {
      return model.on(matcher, responder, { once: true });
    },
    /** Replace what unmatched requests get. */
    setDefault(responder) {
      defaultResponse = responder;
    },
    /**
     * Resolve with the first request entry (from index `from`, default: any received so far
     * or later) whose body satisfies pred(body, entry).
     */
    waitForRequest(pred = () => true, { timeoutMs = 15000, from = 0 } = {}) {
      return new Promise((resolve, reject) => {
        const w = { pred, from, resolve, reject };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`fake model: no matching request within ${timeoutMs} ms (${requests.length} received)`));
        }, timeoutMs);
        waiters.add(w);
        notify();
      });
    },
    /** Forget all rules and recorded requests (keeps the server). */
    reset() {
      rules = [];
      requests.length = 0;
      defaultResponse = opts.defaultResponse ?? { text: "ok" };
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const ac of inflight) ac.abort();
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error("fake model closed"));
      }
      waiters.clear();
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
  return model;
}
