// Shared pieces of the tests: the real server binary, temp workspaces, a fake OpenCode SDK client.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import type { PluginInput } from "@opencode-ai/plugin";

import type { Logger } from "../src/log.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** editors/opencode (tests run from .test-build/test). */
export const PLUGIN_DIR = path.resolve(here, "..", "..");
export const REPO_ROOT = path.resolve(PLUGIN_DIR, "..", "..");

let cachedBin: string | undefined;

/** The server binary: $OPENCODE_ORCHESTRATOR_BIN, else target/debug (built when missing). */
export function serverBin(): string {
  if (cachedBin) return cachedBin;
  const fromEnv = process.env.OPENCODE_ORCHESTRATOR_BIN;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`OPENCODE_ORCHESTRATOR_BIN=${fromEnv} does not exist`);
    cachedBin = fromEnv;
    return fromEnv;
  }
  const bin = path.join(REPO_ROOT, "target", "debug", "opencode-orchestrator");
  if (!fs.existsSync(bin)) {
    // cargo waits by itself when another build holds the lock.
    const r = spawnSync("cargo", ["build", "--locked", "--quiet"], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "inherit"], timeout: 30 * 60_000 });
    if (r.status !== 0 || !fs.existsSync(bin)) throw new Error(`cargo build in ${REPO_ROOT} failed (status ${r.status})`);
  }
  cachedBin = bin;
  return bin;
}

const made: string[] = [];

/** A fresh workspace directory (removed at process exit). */
export function tempWorkspace(prefix = "oc-orch-plugin-"): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(dir);
  return dir;
}

process.on("exit", () => {
  for (const d of made) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

/** An environment with the user's orchestrator config kept out. */
export function isolatedEnv(ws: string): NodeJS.ProcessEnv {
  const xdg = path.join(ws, ".xdg");
  fs.mkdirSync(xdg, { recursive: true });
  return { ...process.env, XDG_CONFIG_HOME: xdg, HOME: process.env.HOME, RUST_LOG: process.env.RUST_LOG ?? "warn" };
}

/** Server config for tests: the scripted runtime, the log inside the workspace. */
export function scriptedConfig(ws: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { backend: "scripted", log: { path: path.join(ws, "orchestrator.log") }, ...extra };
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => {
    lines.push(`${level}: ${m}`);
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitUntil<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(25);
  }
}

/** A script for the scripted runtime (docs/CONFIG.md). */
export function script(s: Record<string, unknown>): string {
  return JSON.stringify({ script: s });
}

type SdkResult = { data?: unknown; error?: unknown; response: { status: number; ok: boolean } };
const ok = (data: unknown, status = 200): SdkResult => ({ data, response: { status, ok: true } });
const fail = (status: number, error: unknown): SdkResult => ({ error, response: { status, ok: false } });

export interface FakeMessage {
  info: Record<string, unknown>;
  parts: Array<Record<string, unknown>>;
}

/**
 * A fake of the parts of OpenCode's SDK client the plugin uses, recording every call. Sessions
 * answer prompts with `reply(text)` after `answerDelayMs`, announcing it through `emit` (wire it
 * to the plugin's `event` hook).
 */
export class FakeClient {
  readonly calls: Array<{ method: string; options: Record<string, unknown> }> = [];
  readonly toasts: Array<{ title?: string; message: string; variant: string }> = [];
  readonly logs: Array<{ level: string; message: string }> = [];
  readonly sessions = new Map<string, { id: string; title?: string; parentID?: string; messages: FakeMessage[]; busy: boolean }>();
  emit: (event: unknown) => void = () => undefined;
  answerDelayMs = 30;
  reply: (text: string) => string = (text) => `answer to: ${text}`;
  toastFails = false;
  private n = 0;

  readonly app = {
    log: (o: { body: { level: string; message: string } }) => {
      this.logs.push({ level: o.body.level, message: o.body.message });
      return Promise.resolve(ok(true));
    },
  };

  readonly tui = {
    showToast: (o: { body: { title?: string; message: string; variant: string } }) => {
      if (this.toastFails) return Promise.reject(new Error("no TUI"));
      this.toasts.push(o.body);
      return Promise.resolve(ok(true));
    },
  };

  private record(method: string, options: Record<string, unknown>): void {
    this.calls.push({ method, options });
  }

  private get(options: { path?: { id?: string } }) {
    return this.sessions.get(options.path?.id ?? "");
  }

  private notFound(id: unknown): SdkResult {
    return fail(404, { name: "NotFoundError", data: { message: `Session not found: ${String(id)}` } });
  }

  readonly session = {
    create: (o: { body?: { title?: string; parentID?: string } }) => {
      this.record("session.create", o);
      const id = `ses_fake${String(++this.n).padStart(4, "0")}`;
      const s = { id, title: o.body?.title, parentID: o.body?.parentID, messages: [], busy: false };
      this.sessions.set(id, s);
      return Promise.resolve(ok({ id, title: s.title, parentID: s.parentID, directory: "/x", time: { created: Date.now(), updated: Date.now() } }));
    },
    promptAsync: (o: { path: { id: string }; body: { parts: Array<{ type: string; text?: string }>; agent?: string } }) => {
      this.record("session.promptAsync", o);
      const s = this.get(o);
      if (!s) return Promise.resolve(this.notFound(o.path.id));
      const text = o.body.parts.map((p) => p.text ?? "").join("");
      const now = Date.now();
      s.busy = true;
      s.messages.push({ info: { id: `msg_u${now}`, role: "user", sessionID: s.id, time: { created: now } }, parts: [{ type: "text", text }] });
      setTimeout(() => {
        this.emit({ type: "session.status", properties: { sessionID: s.id, status: { type: "busy" } } });
        const t = Date.now();
        const info = {
          id: `msg_a${t}`,
          role: "assistant",
          sessionID: s.id,
          agent: o.body.agent,
          time: { created: t, completed: t + 1 },
          finish: "stop",
          tokens: { input: 10, output: 5, reasoning: 0, cache: { read: 0, write: 0 } },
          cost: 0,
        };
        const part = { id: `prt_${t}`, messageID: info.id, sessionID: s.id, type: "text", text: this.reply(text) };
        s.messages.push({ info, parts: [part] });
        // OpenCode's order: the message starts, its parts stream, then it is completed.
        this.emit({ type: "message.updated", properties: { info: { ...info, time: { created: t }, finish: undefined } } });
        this.emit({ type: "message.part.updated", properties: { part } });
        this.emit({ type: "message.updated", properties: { info } });
        s.busy = false;
        this.emit({ type: "session.status", properties: { sessionID: s.id, status: { type: "idle" } } });
        this.emit({ type: "session.idle", properties: { sessionID: s.id } });
      }, this.answerDelayMs).unref();
      return Promise.resolve(ok(undefined, 204));
    },
    abort: (o: { path: { id: string } }) => {
      this.record("session.abort", o);
      return Promise.resolve(this.get(o) ? ok(true) : this.notFound(o.path.id));
    },
    messages: (o: { path: { id: string } }) => {
      this.record("session.messages", o);
      const s = this.get(o);
      return Promise.resolve(s ? ok(s.messages) : this.notFound(o.path.id));
    },
    get: (o: { path: { id: string } }) => {
      this.record("session.get", o);
      const s = this.get(o);
      return Promise.resolve(s ? ok({ id: s.id, title: s.title, parentID: s.parentID }) : this.notFound(o.path.id));
    },
    delete: (o: { path: { id: string } }) => {
      this.record("session.delete", o);
      const s = this.get(o);
      if (!s) return Promise.resolve(this.notFound(o.path.id));
      this.sessions.delete(s.id);
      return Promise.resolve(ok(true));
    },
    status: (o: Record<string, unknown>) => {
      this.record("session.status", o);
      const map: Record<string, { type: string }> = {};
      for (const s of this.sessions.values()) if (s.busy) map[s.id] = { type: "busy" };
      return Promise.resolve(ok(map));
    },
  };

  callsOf(method: string): Array<Record<string, unknown>> {
    return this.calls.filter((c) => c.method === method).map((c) => c.options);
  }
}

/** A PluginInput around a fake client. */
export function pluginInput(client: FakeClient, directory: string, serverUrl?: string): PluginInput {
  return {
    client: client as unknown as PluginInput["client"],
    project: { id: "test", worktree: directory, time: { created: Date.now() } },
    directory,
    worktree: directory,
    experimental_workspace: { register: () => undefined },
    serverUrl: new URL(serverUrl ?? "http://127.0.0.1:9/"),
    $: undefined as unknown as PluginInput["$"],
  };
}
