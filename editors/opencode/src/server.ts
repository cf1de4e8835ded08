// The orchestrator server as a child process: started with `serve`, initialized, restarted with
// backoff when it dies (at most `maxRestartsPerMinute`), shut down with `shutdown` + `exit`.

import { spawn, type ChildProcess } from "node:child_process";

import type { Logger } from "./log.js";
import {
  ConnectionClosedError,
  RpcConnection,
  RpcError,
  type NotificationHandler,
  type RequestHandler,
  type RequestOptions,
} from "./rpc.js";

export const CLIENT_NAME = "opencode-plugin";
export const PLUGIN_VERSION = "0.1.0";

export interface ServerOptions {
  bin: string;
  /** Default `["serve"]`. */
  args?: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** `initialize`'s `initializationOptions`. */
  initializationOptions: Record<string, unknown>;
  logger: Logger;
  /** Default time limit of a request (ms). */
  requestTimeoutMs?: number;
  /** Time limit of `initialize` (ms). */
  startTimeoutMs?: number;
  maxRestartsPerMinute?: number;
  /** First restart delay (ms); it doubles with every restart in the last minute, up to 10 s. */
  restartBackoffMs?: number;
  requestHandlers?: Record<string, RequestHandler>;
  notificationHandlers?: Record<string, NotificationHandler>;
  /** Runs after every successful `initialize` + `initialized` (first start and restarts). */
  onReady?: (server: OrchestratorServer, restarted: boolean) => Promise<void> | void;
  /** A restart finished (`ok`) or the server was given up (`!ok`). */
  onRestart?: (info: { ok: boolean; reason: string; message: string }) => void;
}

/** The server stopped while a request waited for it. */
export class ServerStoppedError extends ConnectionClosedError {
  constructor(message: string) {
    super(message);
    this.name = "ServerStoppedError";
  }
}

type State = "idle" | "starting" | "ready" | "restarting" | "failed" | "stopping" | "stopped";

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const STDERR_TAIL_LINES = 20;

export class OrchestratorServer {
  private state: State = "idle";
  private child: ChildProcess | undefined;
  private conn: RpcConnection | undefined;
  private ready: Deferred = deferred();
  private failure: string | undefined;
  private readonly restartTimes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private stderrTail: string[] = [];
  private stopping: Promise<void> | undefined;
  /** `initialize`'s result of the current process. */
  initializeResult: unknown;
  /** How many times the server was restarted. */
  restarts = 0;

  constructor(private readonly opts: ServerOptions) {}

  get status(): State {
    return this.state;
  }

  /** Why the server is not available, when it failed for good. */
  get failureMessage(): string | undefined {
    return this.failure;
  }

  /** The process id of the current child (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and initializes it. Rejects (and stays failed) when that fails. */
  async start(): Promise<unknown> {
    if (this.state !== "idle") throw new Error(`start() called twice (state ${this.state})`);
    this.state = "starting";
    try {
      await this.launch(false);
    } catch (e) {
      const message = (e as Error).message;
      this.giveUp(`the orchestrator server could not start: ${message}`);
      throw new Error(this.failure);
    }
    return this.initializeResult;
  }

  /** Waits until the server is ready (after a restart), or rejects if it failed for good. */
  async whenReady(timeoutMs = 30_000): Promise<void> {
    if (this.state === "ready") return;
    if (this.state === "failed" || this.state === "stopped" || this.state === "stopping") {
      throw new ServerStoppedError(this.failure ?? "the orchestrator server was stopped");
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.ready.promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the orchestrator server was not ready within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async request<T = unknown>(method: string, params?: unknown, options: RequestOptions = {}): Promise<T> {
    if (this.state !== "ready") await this.whenReady();
    const conn = this.conn;
    if (!conn) throw new ServerStoppedError(this.failure ?? "the orchestrator server is not running");
    return conn.request<T>(method, params, options);
  }

  /** Sends a notification if the server is ready; dropped otherwise. */
  notify(method: string, params?: unknown): boolean {
    if (this.state !== "ready" || !this.conn) return false;
    this.conn.notify(method, params);
    return true;
  }

  /** `shutdown`, `exit`, then SIGKILL if the process is still there after `graceMs`. */
  stop(graceMs = 2000): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = this.doStop(graceMs);
    return this.stopping;
  }

  /** For process exit, where nothing can be awaited: sends `shutdown` and `exit` and lets go. */
  stopNow(): void {
    if (this.state === "stopped") return;
    this.clearRestart();
    this.state = "stopped";
    const conn = this.conn;
    if (conn && !conn.closed) {
      conn.request("shutdown", null, { timeoutMs: 0 }).catch(() => undefined);
      conn.notify("exit");
      conn.close(new ServerStoppedError("OpenCode is exiting"));
    }
    try {
      this.child?.stdin?.end();
    } catch {
      // already closed
    }
    this.ready.reject(new ServerStoppedError("OpenCode is exiting"));
  }

  private async doStop(graceMs: number): Promise<void> {
    this.clearRestart();
    const wasReady = this.state === "ready";
    this.state = "stopping";
    this.ready.reject(new ServerStoppedError("the orchestrator server was stopped"));
    const child = this.child;
    const conn = this.conn;
    const deadline = Date.now() + graceMs;
    if (child && child.exitCode === null && child.signalCode === null) {
      // Hold the event loop until the child is gone (bounded by the kill below).
      child.ref();
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      if (conn && !conn.closed && wasReady) {
        try {
          await conn.request("shutdown", null, { timeoutMs: Math.max(1, deadline - Date.now()) });
        } catch {
          // it may be stuck; the kill below handles that
        }
        conn.notify("exit");
      }
      try {
        child.stdin?.end();
      } catch {
        // already closed
      }
      let timer: NodeJS.Timeout | undefined;
      const left = Math.max(0, deadline - Date.now());
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), left);
        }),
      ]);
      if (timer) clearTimeout(timer);
      if (timedOut) {
        this.opts.logger.warn("the orchestrator server did not exit in time; killing it", { pid: child.pid });
        child.kill("SIGKILL");
        let killTimer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (killTimer = setTimeout(r, 1000)))]);
        clearTimeout(killTimer);
      }
    }
    conn?.close(new ServerStoppedError("the orchestrator server was stopped"));
    this.state = "stopped";
  }

  private async launch(restarted: boolean): Promise<void> {
    const { bin, cwd, logger } = this.opts;
    const args = this.opts.args ?? ["serve"];
    this.stderrTail = [];
    const child = spawn(bin, args, {
      cwd,
      env: this.opts.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    this.child = child;
    const conn = new RpcConnection(child.stdout, child.stdin, {
      timeoutMs: this.opts.requestTimeoutMs ?? 120_000,
      onProtocolError: (m) => logger.warn(`protocol: ${m}`),
      // The exit handler closes it, saying how the process ended.
      closeOnEnd: false,
    });
    child.stdout?.once("end", () => {
      // A process that closes its output but lives on is of no use either.
      const t = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          conn.close(new ServerStoppedError("the orchestrator server closed its output"));
          child.kill("SIGKILL");
        }
      }, 2000);
      t.unref();
    });
    this.conn = conn;
    for (const [method, handler] of Object.entries(this.opts.requestHandlers ?? {})) conn.onRequest(method, handler);
    for (const [method, handler] of Object.entries(this.opts.notificationHandlers ?? {})) conn.onNotification(method, handler);

    let stderrPartial = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      const lines = (stderrPartial + chunk).split("\n");
      stderrPartial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
        logger.debug(`server stderr: ${line}`);
      }
    });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (e) => reject(e));
    });
    child.on("error", (e) => {
      conn.close(new ServerStoppedError(`the orchestrator server could not run (${bin}): ${e.message}`));
    });
    child.once("exit", (code, signal) => this.onExit(child, code, signal));

    await spawned;
    const result = await conn.request("initialize", {
      processId: process.pid,
      clientInfo: { name: CLIENT_NAME, version: PLUGIN_VERSION },
      rootUri: null,
      capabilities: {},
      initializationOptions: this.opts.initializationOptions,
    }, { timeoutMs: this.opts.startTimeoutMs ?? 15_000 });
    if (this.state !== "starting") {
      // stop() came while initialize was under way
      throw new ServerStoppedError("the orchestrator server was stopped while it started");
    }
    conn.notify("initialized", {});
    // From now on the child must never keep OpenCode (or a test) alive by itself; requests keep
    // the event loop going with their timers.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
    this.initializeResult = result;
    this.state = "ready";
    this.failure = undefined;
    logger.info(restarted ? "orchestrator server restarted" : "orchestrator server started", { pid: child.pid, bin });
    try {
      await this.opts.onReady?.(this, restarted);
    } catch (e) {
      logger.warn(`after initialize: ${(e as Error).message}`);
    }
    this.ready.resolve();
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = this.stderrTail.length ? `; its last output: ${this.stderrTail.slice(-3).join(" | ")}` : "";
    return `the orchestrator server ${how}${tail}`;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    const reason = this.describeExit(code, signal);
    const conn = this.conn;
    if (this.state === "restarting") return; // a failed restart killed it; the next one is scheduled
    if (this.state === "stopping" || this.state === "stopped" || this.state === "failed") {
      conn?.close(new ServerStoppedError("the orchestrator server was stopped"));
      return;
    }
    if (this.state === "starting") {
      // start() or a restart is waiting on initialize: it fails with this error.
      conn?.close(new ServerStoppedError(reason));
      return;
    }
    this.opts.logger.error(`${reason}; restarting it`);
    conn?.close(new ServerStoppedError(`${reason} while this request was waiting; it is being restarted, try again`));
    this.scheduleRestart(reason);
  }

  private scheduleRestart(reason: string): void {
    const now = Date.now();
    while (now - (this.restartTimes[0] ?? now) > 60_000) this.restartTimes.shift();
    const max = this.opts.maxRestartsPerMinute ?? 5;
    if (this.restartTimes.length >= max) {
      const message = `${reason}. It stopped ${max + 1} times within a minute, so it is not restarted again; restart OpenCode to try again (the server's log: \`opencode-orchestrator log-path\`)`;
      this.giveUp(message);
      this.opts.onRestart?.({ ok: false, reason, message });
      return;
    }
    const delay = Math.min(10_000, (this.opts.restartBackoffMs ?? 250) * 2 ** this.restartTimes.length);
    this.restartTimes.push(now);
    if (this.state === "ready") this.ready = deferred();
    this.state = "restarting";
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.state !== "restarting") return;
      this.state = "starting";
      this.launch(true).then(
        () => {
          this.restarts++;
          this.opts.onRestart?.({ ok: true, reason, message: `the orchestrator server restarted (${reason})` });
        },
        (e: unknown) => {
          const why = e instanceof RpcError ? `initialize failed: ${e.message}` : (e as Error).message;
          this.opts.logger.error(`restarting the orchestrator server failed: ${why}`);
          const child = this.child;
          if (e instanceof RpcError) {
            // It answers but refuses to start (a config error): restarting will not help.
            this.giveUp(`the orchestrator server could not restart: ${why}`);
            child?.kill("SIGKILL");
            this.opts.onRestart?.({ ok: false, reason, message: this.failure ?? why });
            return;
          }
          child?.kill("SIGKILL");
          if (this.state === "starting") {
            this.state = "restarting";
            this.scheduleRestart(why);
          }
        },
      );
    }, delay);
    this.restartTimer.unref?.();
  }

  private giveUp(message: string): void {
    this.clearRestart();
    this.state = "failed";
    this.failure = message;
    this.ready.reject(new ServerStoppedError(message));
    this.conn?.close(new ServerStoppedError(message));
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }

  private clearRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }
}
