// A small JSON-RPC 2.0 client over LSP base framing (`Content-Length` headers), written for the
// orchestrator server: requests with ids and per-request timeouts, notifications both ways, and
// requests from the server to us (answered with a result or a JSON-RPC error).

import type { Readable, Writable } from "node:stream";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON-RPC error object, as an Error. Also what request handlers throw to reply with one. */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.data = data;
  }

  /** `data.kind` of the server's errors (docs/PROTOCOL.md), when there is one. */
  get kind(): string | undefined {
    const d = this.data;
    if (d && typeof d === "object" && "kind" in d && typeof d.kind === "string") return d.kind;
    return undefined;
  }
}

/** The connection ended (the process exited, the pipe closed) before the reply came. */
export class ConnectionClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionClosedError";
  }
}

/** No reply within the request's time limit. */
export class RequestTimeoutError extends Error {
  constructor(method: string, ms: number) {
    super(`the orchestrator did not answer ${method} within ${ms} ms`);
    this.name = "RequestTimeoutError";
  }
}

/** The caller's AbortSignal fired before the reply came. */
export class RequestAbortedError extends Error {
  constructor(method: string) {
    super(`${method} was aborted`);
    this.name = "RequestAbortedError";
  }
}

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;

export interface RequestOptions {
  /** Reject after this long (the default comes from the connection; 0 = never). */
  timeoutMs?: number;
  /** Stop waiting when it fires; the server is told with `$/cancelRequest`. */
  signal?: AbortSignal;
}

export type RequestHandler = (params: unknown) => unknown;
export type NotificationHandler = (params: unknown) => void;

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  cleanup(): void;
}

export interface RpcConnectionOptions {
  /** Default time limit of a request in ms (0 = none). */
  timeoutMs?: number;
  /** Where to report protocol problems (a bad frame, a reply nobody waits for). */
  onProtocolError?: (message: string) => void;
  /**
   * Close when the input ends (default true). A process supervisor that closes the connection
   * itself, with the reason the process ended, passes false.
   */
  closeOnEnd?: boolean;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const HEADER_END_LF = Buffer.from("\n\n");

/** Finds the end of a header block; accepts `\r\n\r\n` and bare `\n\n`. */
function headerEnd(buf: Buffer): { at: number; length: number } | undefined {
  const crlf = buf.indexOf(HEADER_END);
  const lf = buf.indexOf(HEADER_END_LF);
  if (crlf < 0 && lf < 0) return undefined;
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { at: crlf, length: 4 };
  return { at: lf, length: 2 };
}

/** Splits a byte stream into LSP frame bodies. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private bodyLength: number | undefined;

  constructor(private readonly onError: (message: string) => void) {}

  /** Feeds bytes; returns the complete bodies found so far. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const bodies: Buffer[] = [];
    for (;;) {
      if (this.bodyLength === undefined) {
        const end = headerEnd(this.buf);
        if (!end) {
          if (this.buf.length > 64 * 1024) {
            this.onError("dropped 64 KiB of input without a frame header");
            this.buf = Buffer.alloc(0);
          }
          return bodies;
        }
        const header = this.buf.subarray(0, end.at).toString("ascii");
        this.buf = this.buf.subarray(end.at + end.length);
        const length = parseContentLength(header);
        if (length === undefined) {
          this.onError(`dropped a frame header without a usable Content-Length: ${JSON.stringify(header)}`);
          continue;
        }
        this.bodyLength = length;
      }
      if (this.buf.length < this.bodyLength) return bodies;
      bodies.push(this.buf.subarray(0, this.bodyLength));
      this.buf = this.buf.subarray(this.bodyLength);
      this.bodyLength = undefined;
    }
  }
}

function parseContentLength(header: string): number | undefined {
  for (const line of header.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== "content-length") continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d+$/.test(value)) return undefined;
    return Number(value);
  }
  return undefined;
}

/** Encodes one message as an LSP frame. */
export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]);
}

type Incoming = {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown; data?: unknown };
};

/** One JSON-RPC connection over a readable and a writable stream. */
export class RpcConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly requestHandlers = new Map<string, RequestHandler>();
  private readonly notificationHandlers = new Map<string, NotificationHandler>();
  private readonly decoder: FrameDecoder;
  private closedWith: Error | undefined;
  private readonly timeoutMs: number;
  private readonly protocolError: (message: string) => void;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    options: RpcConnectionOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.protocolError = options.onProtocolError ?? (() => undefined);
    this.decoder = new FrameDecoder(this.protocolError);
    input.on("data", (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      for (const body of this.decoder.push(bytes)) this.dispatch(body);
    });
    if (options.closeOnEnd ?? true) {
      input.on("end", () => this.close(new ConnectionClosedError("the orchestrator closed its output")));
    }
    input.on("error", (e: Error) => this.close(new ConnectionClosedError(`reading from the orchestrator failed: ${e.message}`)));
    output.on("error", (e: Error) => this.close(new ConnectionClosedError(`writing to the orchestrator failed: ${e.message}`)));
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Requests waiting for their reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  onRequest(method: string, handler: RequestHandler): void {
    this.requestHandlers.set(method, handler);
  }

  onNotification(method: string, handler: NotificationHandler): void {
    this.notificationHandlers.set(method, handler);
  }

  request<T = unknown>(method: string, params?: unknown, options: RequestOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new RequestAbortedError(method));
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        this.forget(id);
        this.cancelOnServer(id);
        reject(new RequestAbortedError(method));
      };
      const entry: Pending = {
        method,
        resolve: (v) => resolve(v as T),
        reject,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      this.pending.set(id, entry);
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.forget(id);
          this.cancelOnServer(id);
          reject(new RequestTimeoutError(method, timeoutMs));
        }, timeoutMs);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      const message: Record<string, unknown> = { jsonrpc: "2.0", id, method };
      if (params !== undefined) message.params = params;
      this.write(message);
    });
  }

  notify(method: string, params?: unknown): void {
    if (this.closedWith) return;
    const message: Record<string, unknown> = { jsonrpc: "2.0", method };
    if (params !== undefined) message.params = params;
    this.write(message);
  }

  /** Ends the connection: every waiting request is rejected with `error`. Idempotent. */
  close(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.cleanup();
      p.reject(error);
    }
  }

  private forget(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.cleanup();
  }

  private cancelOnServer(id: number): void {
    this.notify("$/cancelRequest", { id });
  }

  private write(message: unknown): void {
    if (this.closedWith) return;
    try {
      this.output.write(encodeFrame(message));
    } catch (e) {
      this.close(new ConnectionClosedError(`writing to the orchestrator failed: ${(e as Error).message}`));
    }
  }

  private dispatch(body: Buffer): void {
    let msg: Incoming;
    try {
      msg = JSON.parse(body.toString("utf8")) as Incoming;
    } catch {
      this.protocolError(`dropped a frame that is not JSON: ${body.subarray(0, 200).toString("utf8")}`);
      return;
    }
    if (!msg || typeof msg !== "object" || Array.isArray(msg)) {
      this.protocolError("dropped a frame that is not a JSON-RPC object");
      return;
    }
    if (typeof msg.method === "string") {
      if (msg.id !== undefined && msg.id !== null) this.answer(msg.id, msg.method, msg.params);
      else this.notified(msg.method, msg.params);
      return;
    }
    if (typeof msg.id !== "number") {
      // Errors about frames the server could not read carry id null.
      if (msg.error) this.protocolError(`the orchestrator rejected a message: ${String(msg.error.message)}`);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return; // timed out or aborted already
    this.pending.delete(msg.id);
    p.cleanup();
    if (msg.error) {
      const code = typeof msg.error.code === "number" ? msg.error.code : ErrorCodes.InternalError;
      const message = typeof msg.error.message === "string" ? msg.error.message : "unknown error";
      p.reject(new RpcError(code, message, msg.error.data));
    } else {
      p.resolve(msg.result ?? null);
    }
  }

  private notified(method: string, params: unknown): void {
    const handler = this.notificationHandlers.get(method);
    if (!handler) return;
    try {
      handler(params);
    } catch (e) {
      this.protocolError(`the handler of ${method} failed: ${(e as Error).message}`);
    }
  }

  private answer(id: unknown, method: string, params: unknown): void {
    const handler = this.requestHandlers.get(method);
    const reply = (payload: { result: unknown } | { error: { code: number; message: string; data?: unknown } }): void => {
      this.write({ jsonrpc: "2.0", id, ...payload });
    };
    if (!handler) {
      reply({ error: { code: ErrorCodes.MethodNotFound, message: `unknown method: ${method}` } });
      return;
    }
    let result: unknown;
    try {
      result = handler(params);
    } catch (e) {
      reply({ error: toErrorObject(e) });
      return;
    }
    Promise.resolve(result).then(
      (value) => reply({ result: value === undefined ? null : value }),
      (e: unknown) => reply({ error: toErrorObject(e) }),
    );
  }
}

function toErrorObject(e: unknown): { code: number; message: string; data?: unknown } {
  if (e instanceof RpcError) {
    return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: ErrorCodes.InternalError, message };
}
