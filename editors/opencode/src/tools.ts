// Running the server's tools for OpenCode: `orchestrator/tools/call`, plus the wait loop of a
// synchronous `delegate_task` (`background: false`), which polls `get_task_result` with bounded
// waits instead of holding one request for the life of the sub-agent.

import { ConnectionClosedError, RequestAbortedError, RequestTimeoutError, RpcError, type RequestOptions } from "./rpc.js";

/** What a tool call needs of the server. */
export interface ToolServer {
  request<T = unknown>(method: string, params?: unknown, options?: RequestOptions): Promise<T>;
  whenReady(timeoutMs?: number): Promise<void>;
}

/** The parts of OpenCode's `ToolContext` used here. */
export interface ToolCallContext {
  sessionID?: string;
  messageID?: string;
  agent?: string;
  abort?: AbortSignal;
  metadata?: (input: { title?: string; metadata?: Record<string, unknown> }) => void;
}

/** `orchestrator/tools/call`'s result. */
export interface ToolCallResult {
  title?: string;
  output: string;
  metadata: Record<string, unknown>;
}

export interface ToolCallOptions {
  /** `waitMs` of each `get_task_result` poll of a synchronous delegation. */
  syncWaitMs?: number;
  /** Polls answered sooner than this while the task still runs are spaced out to it. */
  minPollIntervalMs?: number;
  /** Time limit of one `tools/call` request. */
  timeoutMs?: number;
}

export const SYNC_WAIT_MS = 25_000;
const PENDING = new Set(["queued", "running"]);
/** A poll may fail this many times in a row because the server restarted. */
const MAX_RESTART_RETRIES = 3;

interface TaskSummary {
  taskId?: string;
  id?: string;
  status?: string;
  agent?: string;
  description?: string;
}

function taskOf(result: ToolCallResult | undefined): TaskSummary | undefined {
  const task = result?.metadata?.task;
  return typeof task === "object" && task !== null ? task : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function normalize(raw: unknown, name: string): ToolCallResult {
  const r = (typeof raw === "object" && raw !== null ? raw : {}) as Partial<ToolCallResult>;
  const metadata = typeof r.metadata === "object" && r.metadata !== null ? r.metadata : {};
  const output = typeof r.output === "string" ? r.output : JSON.stringify(raw ?? null);
  return typeof r.title === "string" ? { title: r.title, output, metadata } : { title: name, output, metadata };
}

/** The Error OpenCode shows the model for a failed call. */
export function toolError(e: unknown, name: string): Error {
  if (e instanceof RpcError) return new Error(e.message);
  if (e instanceof RequestAbortedError) return new Error(`${name} was aborted`);
  if (e instanceof RequestTimeoutError || e instanceof ConnectionClosedError) return new Error(e.message);
  return e instanceof Error ? e : new Error(String(e));
}

/** Runs one tool, waiting for the result of a synchronous delegation. */
export async function callTool(
  server: ToolServer,
  name: string,
  args: Record<string, unknown>,
  ctx: ToolCallContext,
  options: ToolCallOptions = {},
): Promise<ToolCallResult> {
  const context: Record<string, string> = {};
  if (ctx.sessionID) context.sessionId = ctx.sessionID;
  if (ctx.messageID) context.messageId = ctx.messageID;
  if (ctx.agent) context.agent = ctx.agent;
  const request = async (tool: string, toolArgs: Record<string, unknown>): Promise<ToolCallResult> =>
    normalize(
      await server.request("orchestrator/tools/call", { name: tool, arguments: toolArgs, context }, {
        signal: ctx.abort,
        timeoutMs: options.timeoutMs,
      }),
      tool,
    );

  let result: ToolCallResult;
  try {
    result = await request(name, args);
  } catch (e) {
    throw toolError(e, name);
  }
  if (name !== "delegate_task" || args.background !== false) return result;

  // Synchronous delegation: the server waited up to its `scheduler.maxWaitMs`; keep polling.
  let task = taskOf(result);
  const taskId = task?.taskId ?? task?.id;
  if (!taskId) return result;
  let failures = 0;
  while (task && PENDING.has(task.status ?? "")) {
    if (ctx.abort?.aborted) throw stoppedWaiting(taskId);
    try {
      ctx.metadata?.({ title: `${task.agent ?? "task"}: ${task.status ?? "running"}`, metadata: { task } });
    } catch {
      // only a progress display
    }
    const started = Date.now();
    try {
      result = await request("get_task_result", { taskId, waitMs: options.syncWaitMs ?? SYNC_WAIT_MS });
      failures = 0;
    } catch (e) {
      if (e instanceof RequestAbortedError || ctx.abort?.aborted) throw stoppedWaiting(taskId);
      if (e instanceof ConnectionClosedError && failures < MAX_RESTART_RETRIES) {
        // The server restarted; the task is in its ledger.
        failures++;
        try {
          await server.whenReady();
        } catch (ready) {
          throw toolError(ready, name);
        }
        continue;
      }
      throw toolError(e, name);
    }
    const next = taskOf(result);
    if (!next) break;
    task = next;
    const minInterval = options.minPollIntervalMs ?? 250;
    if (PENDING.has(task.status ?? "") && Date.now() - started < minInterval) {
      await sleep(minInterval - (Date.now() - started), ctx.abort);
    }
  }
  return result;
}

function stoppedWaiting(taskId: string): Error {
  return new Error(
    `Stopped waiting for task ${taskId}: the call was aborted. The task goes on in the background; ` +
      `get_task_result with taskId "${taskId}" reads its result, cancel_task stops it.`,
  );
}
