// The OpenCode bridge: the server's `orchestrator/opencode/call` requests `{op, params}`, carried
// out with OpenCode's in-process SDK client (`input.client`). Used when the server cannot reach
// OpenCode over HTTP (under `opencode run` the server URL is a placeholder).
//
// Replies: the SDK's response data; on failure a JSON-RPC error whose `data.status` is the HTTP
// status OpenCode answered (the server reads 404 as "no such session").

import type { OpencodeClient } from "@opencode-ai/sdk";

import { ErrorCodes, RpcError } from "./rpc.js";

/** A JSON-RPC error for an OpenCode call that failed. */
export const OPENCODE_CALL_FAILED = -32000;

export const BRIDGE_OPS = [
  "session.create",
  "session.promptAsync",
  "session.abort",
  "session.messages",
  "session.get",
  "session.delete",
  "session.status",
] as const;

export type BridgeOp = (typeof BRIDGE_OPS)[number];

/**
 * A call OpenCode has not answered in this time is answered with an error. The server gives
 * up after 30 s; answering first lets it forget the request instead of keeping it pending.
 */
export const CALL_TIMEOUT_MS = 25_000;

/** The parts of the SDK client the bridge uses (`OpencodeClient["session"]`). */
export type BridgeClient = Pick<OpencodeClient, "session">;

type SdkResult = { data?: unknown; error?: unknown; response?: { status?: number; ok?: boolean } };

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  const e = record(error);
  if (!e) return String(error);
  const data = record(e.data);
  if (typeof data?.message === "string") return data.message;
  if (typeof e.message === "string") return e.message;
  if (typeof e.name === "string") return e.name;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

function failure(op: string, status: number | undefined, error: unknown): RpcError {
  const where = status === undefined ? "" : ` (HTTP ${status})`;
  const data: Record<string, unknown> = { op };
  if (status !== undefined) data.status = status;
  const body = record(error);
  if (typeof body?.name === "string") data.name = body.name;
  return new RpcError(OPENCODE_CALL_FAILED, `OpenCode ${op} failed${where}: ${errorText(error)}`, data);
}

/** Unwraps an SDK result (`{data}` or `{error, response}`). */
function unwrap(op: string, result: unknown): unknown {
  const r = (record(result) ?? {}) as SdkResult;
  const status = typeof r.response?.status === "number" ? r.response.status : undefined;
  if (r.error !== undefined || (status !== undefined && status >= 400)) throw failure(op, status, r.error);
  return r.data === undefined ? null : r.data;
}

/** A thrown SDK error (`throwOnError`, or a transport failure). */
function thrown(op: string, e: unknown): RpcError {
  if (e instanceof RpcError) return e;
  const cause = record(e instanceof Error ? e.cause : undefined);
  const status = typeof cause?.status === "number" ? cause.status : undefined;
  const message = e instanceof Error ? e.message : errorText(e);
  return failure(op, status, cause?.body ?? message);
}

function sessionId(params: Record<string, unknown>, op: string): string {
  const id = params.sessionID;
  if (typeof id !== "string" || id === "") {
    throw new RpcError(ErrorCodes.InvalidParams, `${op}: params.sessionID must be a non-empty string`);
  }
  return id;
}

export interface Bridge {
  /** The `orchestrator/opencode/call` request handler. */
  handle(params: unknown): Promise<unknown>;
}

/**
 * `directory` is the project every call is made for (the SDK's `directory` query parameter).
 * `onSession` hears of every session id a call names or creates: these are the sessions whose
 * events matter to the server.
 */
export function createBridge(
  client: BridgeClient,
  directory: string,
  onSession: (id: string) => void = () => undefined,
  timeoutMs: number = CALL_TIMEOUT_MS,
): Bridge {
  const query = { directory };
  const s = client.session;

  async function call(op: string, params: Record<string, unknown>): Promise<unknown> {
    switch (op) {
      case "session.create": {
        const body = (record(params.body) ?? {}) as { title?: string; parentID?: string };
        const data = unwrap(op, await s.create({ body, query }));
        const id = record(data)?.id;
        if (typeof id === "string") onSession(id);
        return data;
      }
      case "session.promptAsync": {
        const id = sessionId(params, op);
        onSession(id);
        const body = record(params.body);
        if (!body || !Array.isArray(body.parts)) {
          throw new RpcError(ErrorCodes.InvalidParams, `${op}: params.body.parts must be an array`);
        }
        type PromptBody = NonNullable<Parameters<typeof s.promptAsync>[0]["body"]>;
        return unwrap(op, await s.promptAsync({ path: { id }, body: body as unknown as PromptBody, query }));
      }
      case "session.abort": {
        const id = sessionId(params, op);
        return unwrap(op, await s.abort({ path: { id }, query }));
      }
      case "session.messages": {
        const id = sessionId(params, op);
        onSession(id);
        return unwrap(op, await s.messages({ path: { id }, query }));
      }
      case "session.get": {
        const id = sessionId(params, op);
        onSession(id);
        return unwrap(op, await s.get({ path: { id }, query }));
      }
      case "session.delete": {
        const id = sessionId(params, op);
        return unwrap(op, await s.delete({ path: { id }, query }));
      }
      case "session.status":
        return unwrap(op, await s.status({ query }));
      default:
        throw new RpcError(ErrorCodes.MethodNotFound, `unknown OpenCode bridge op \`${op}\` (known: ${BRIDGE_OPS.join(", ")})`);
    }
  }

  return {
    async handle(raw: unknown): Promise<unknown> {
      const p = record(raw);
      if (!p || typeof p.op !== "string") {
        throw new RpcError(ErrorCodes.InvalidParams, "orchestrator/opencode/call needs params {op, params}");
      }
      const op = p.op;
      const params = record(p.params) ?? {};
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(failure(op, undefined, `no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      });
      try {
        return await Promise.race([call(op, params), deadline]);
      } catch (e) {
        throw thrown(op, e);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
