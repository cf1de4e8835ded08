// The plugin's runtime: starts the server, registers its tools, agents and commands (/task,
// /stop), binds missions to the session they are typed in, carries the bridge and OpenCode's
// events, and shows toasts for task and mission state changes.

import path from "node:path";

import type { Config, Hooks, PluginInput, ToolContext, ToolDefinition } from "@opencode-ai/plugin";
import { tool } from "@opencode-ai/plugin";

import { findBinary } from "./binary.js";
import { createBridge } from "./bridge.js";
import { BoundedSet, SeqOrderer, eventToForward, isOrchestratorEvent, type OrchestratorEvent } from "./events.js";
import { stopOnExit } from "./lifecycle.js";
import { createLogger, type Logger } from "./log.js";
import { toZodShape } from "./schema.js";
import { CLIENT_NAME, OrchestratorServer, type ServerOptions } from "./server.js";
import { callTool, type ToolCallOptions } from "./tools.js";
import { Toaster } from "./toasts.js";

/** The plugin's options (`"plugin": [["…/opencode-orchestrator.js", { … }]]`). */
export interface PluginSettings {
  /** Path of the server binary (or a name on PATH). */
  bin?: string;
  /** Toasts for task state changes and restarts; default true. */
  toasts: boolean;
  /**
   * Config overrides for the server (`initializationOptions.config`, docs/CONFIG.md). Only a
   * standalone server takes them: the workspace's shared daemon is configured by its files.
   */
  config?: Record<string, unknown>;
  /** Run an orchestrator of this OpenCode's own (`serve --standalone`) instead of connecting to the workspace's shared daemon. */
  standalone: boolean;
}

const KNOWN_OPTIONS = new Set(["bin", "toasts", "config", "standalone"]);

export function parseOptions(raw: unknown, log: Logger): PluginSettings {
  const settings: PluginSettings = { toasts: true, standalone: false };
  if (raw === undefined || raw === null) return settings;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    log.warn("plugin options must be an object; ignored");
    return settings;
  }
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) log.warn(`unknown plugin option \`${key}\` ignored (known: ${[...KNOWN_OPTIONS].join(", ")})`);
  }
  if (typeof o.bin === "string") settings.bin = o.bin;
  else if (o.bin !== undefined) log.warn("plugin option `bin` must be a string; ignored");
  if (typeof o.toasts === "boolean") settings.toasts = o.toasts;
  else if (o.toasts !== undefined) log.warn("plugin option `toasts` must be true or false; ignored");
  if (typeof o.standalone === "boolean") settings.standalone = o.standalone;
  else if (o.standalone !== undefined) log.warn("plugin option `standalone` must be true or false; ignored");
  if (typeof o.config === "object" && o.config !== null && !Array.isArray(o.config)) {
    settings.config = o.config as Record<string, unknown>;
  } else if (o.config !== undefined) {
    log.warn("plugin option `config` must be an object; ignored");
  }
  return settings;
}

/** One tool of `orchestrator/tools/list`. */
export interface ToolInfo {
  name: string;
  description?: string;
  inputSchema?: unknown;
}

/** One agent of `orchestrator/agents/list`. */
export interface AgentInfo {
  name: string;
  displayName?: string;
  [field: string]: unknown;
}

/** One command of `orchestrator/agents/list` (`/task`, `/stop`). */
export interface CommandInfo {
  name: string;
  template: string;
  description?: string;
  agent?: string;
}

/** The tools the server serves; registered (explaining the problem) when it cannot run. */
export const FALLBACK_TOOL_NAMES = ["delegate_task", "get_task_result", "list_tasks", "cancel_task"] as const;

/** Marks the plugin's own prompt text, as the server's prompts are marked. */
export const MARKER = "[opencode-orchestrator]";

/** The command objects this plugin put in a config (to know them again). */
const OUR_COMMANDS = new WeakSet<object>();

/**
 * Registers the agents and commands into OpenCode's config (mutated in place). Returns the names
 * of the commands it added: only those are the plugin's to handle (a command the user already
 * has keeps its own meaning).
 */
export function applyConfig(cfg: Config, agents: readonly AgentInfo[], commands: readonly CommandInfo[], log: Logger): Set<string> {
  const c = cfg as { agent?: Record<string, Record<string, unknown> | undefined>; command?: Record<string, unknown> };
  const added = new Set<string>();
  if (agents.length === 0) return added;
  c.agent ??= {};
  for (const { name, displayName: _displayName, ...agent } of agents) {
    const mine = c.agent[name];
    c.agent[name] = mine ? { ...agent, ...mine } : { ...agent };
  }
  c.command ??= {};
  for (const { name, ...command } of commands) {
    if (command.agent !== undefined && !agents.some((a) => a.name === command.agent)) continue;
    const existing = c.command[name];
    if (existing !== undefined) {
      // Ours from an earlier call on the same config: still ours.
      if (typeof existing === "object" && existing !== null && OUR_COMMANDS.has(existing)) added.add(name);
      else log.warn(`a \`${name}\` command is already configured: opencode-orchestrator's /${name} is not added`);
      continue;
    }
    const mine = { ...command };
    OUR_COMMANDS.add(mine);
    c.command[name] = mine;
    added.add(name);
  }
  return added;
}

const BUDGET_FLAGS: Record<string, string> = {
  "--max-tasks": "maxTasks",
  "--max-minutes": "maxMinutes",
  "--max-tokens": "maxTokens",
  "--max-cost": "maxCost",
};

/** What `/task` asks for: a new mission, or resuming the session's mission; with budgets. */
export type TaskArgs =
  | { resume: false; goal: string; budgets?: Record<string, number> }
  | { resume: true; budgets?: Record<string, number> };

/**
 * `/task [--max-tasks N] [--max-minutes N] [--max-tokens N] [--max-cost X] goal`, or
 * `/task resume` (any case) with those flags before or after it. Flags come before the goal and
 * `--` ends them; the goal is the rest of the text as typed (line breaks kept). An unknown flag,
 * a value that is not a number, or words after `resume` throw: taken as the goal they would
 * start a mission nobody asked for. The server checks the values' ranges.
 */
export function parseTaskArgs(args: string): TaskArgs {
  const budgets: Record<string, number> = {};
  const words = /\S+/g;
  let resume = false;
  let goalAt: number | undefined;
  for (let m = words.exec(args); m; m = words.exec(args)) {
    const word = m[0];
    if (word === "--" && !resume) {
      goalAt = words.lastIndex;
      break;
    }
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const flag = eq < 0 ? word : word.slice(0, eq);
      const key = BUDGET_FLAGS[flag];
      if (!key) {
        throw new Error(
          `unknown option \`${flag}\` (known: ${Object.keys(BUDGET_FLAGS).join(", ")}; put \`--\` before a goal that starts with \`--\`)`,
        );
      }
      const value = eq < 0 ? words.exec(args)?.[0] : word.slice(eq + 1);
      const n = Number(value);
      if (value === undefined || value === "" || !Number.isFinite(n)) {
        throw new Error(`\`${flag}\` needs a number${value ? `, not \`${value}\`` : ""}`);
      }
      budgets[key] = n;
    } else if (resume) {
      throw new Error(`\`/task resume\` takes only budget flags, not \`${word}\` (a goal that starts with "resume" goes after \`--\`: \`/task -- resume …\`)`);
    } else if (word.toLowerCase() === "resume") {
      resume = true;
    } else {
      goalAt = m.index;
      break;
    }
  }
  const withBudgets = Object.keys(budgets).length > 0 ? { budgets } : {};
  if (resume) return { resume: true, ...withBudgets };
  return { resume: false, goal: goalAt === undefined ? "" : args.slice(goalAt).trim(), ...withBudgets };
}

type TextPart = { type?: string; text?: string };

/** Replaces the text a command is about to send (the prompt parts of `command.execute.before`). */
export function replaceCommandText(parts: unknown[], text: string): void {
  const first = parts.find((p): p is TextPart => typeof p === "object" && p !== null && (p as TextPart).type === "text");
  if (first) {
    first.text = text;
    for (let i = parts.length - 1; i >= 0; i--) {
      const p = parts[i] as TextPart | undefined;
      if (p !== first && p?.type === "text") parts.splice(i, 1);
    }
  } else {
    parts.unshift({ type: "text", text });
  }
}

function unavailableTool(name: string, message: string): ToolDefinition {
  return tool({
    description: `opencode-orchestrator's ${name} (unavailable: calling it explains why and how to fix it).`,
    args: {},
    execute() {
      return Promise.reject(new Error(message));
    },
  });
}

/** Hooks of a plugin whose server cannot run: every tool explains the problem. */
export function unavailableHooks(message: string): Hooks {
  const tools: Record<string, ToolDefinition> = {};
  for (const name of FALLBACK_TOOL_NAMES) tools[name] = unavailableTool(name, message);
  return { tool: tools };
}

/** Test seams and tuning; OpenCode passes none. */
export interface RuntimeDeps {
  env?: NodeJS.ProcessEnv;
  /** Stop the server when the process exits (default true). */
  stopOnExit?: boolean;
  /** Overrides of the server supervisor's settings. */
  server?: Partial<Pick<ServerOptions, "args" | "requestTimeoutMs" | "startTimeoutMs" | "maxRestartsPerMinute" | "restartBackoffMs">>;
  tools?: ToolCallOptions;
  /** How long an out-of-order event waits for the ones before it (ms). */
  gapWaitMs?: number;
  /** Offer the bridge in `initialize` (default true). */
  bridge?: boolean;
  /** Toasts for events older than this are skipped (replays after a restart). */
  toastMaxAgeMs?: number;
}

export class OrchestratorRuntime {
  readonly log: Logger;
  readonly server: OrchestratorServer;
  readonly directory: string;
  readonly toaster: Toaster;
  readonly orderer: SeqOrderer;
  readonly taskSessions = new BoundedSet(10_000);
  tools: ToolInfo[] = [];
  agents: AgentInfo[] = [];
  commands: CommandInfo[] = [];
  /** The commands `config` added (`/task`, `/stop`): the command hook handles only these. */
  registeredCommands: ReadonlySet<string> = new Set();
  /** Whether OpenCode's events go to the server (it uses the bridge). */
  forwardEvents = true;
  /** Every event delivered in seq order (tests and listeners). */
  readonly listeners = new Set<(event: OrchestratorEvent) => void>();
  private readonly displayNames = new Map<string, string>();
  private unregisterExit: (() => void) | undefined;
  /** The pid of the server process that last made a bridge call. */
  private bridgeCaller: number | undefined;
  /** The `seq` of the last event delivered (to toasts and listeners). */
  private lastDelivered: number | undefined;
  /** Live events the orderer let out while a replay runs: they go out after the replayed ones. */
  private held: OrchestratorEvent[] = [];
  private replaying: Promise<void> | undefined;
  /** Where the next replay pass starts: a replay asked for while one runs. */
  private replayFrom: number | undefined;

  constructor(
    input: PluginInput,
    readonly settings: PluginSettings,
    bin: string,
    log: Logger,
    private readonly deps: RuntimeDeps = {},
  ) {
    this.log = log;
    this.directory = path.resolve(input.directory || process.cwd());
    this.toaster = new Toaster(input.client, this.displayNames, settings.toasts);
    this.orderer = new SeqOrderer(
      (e) => {
        if (this.replaying) this.held.push(e);
        else this.deliver(e);
      },
      deps.gapWaitMs ?? 200,
      (first, last) => {
        log.warn(`events ${first}-${last} did not come from the orchestrator; replaying them`);
        void this.replay(first - 1);
      },
    );
    const bridge = createBridge(input.client, this.directory, (id) => this.taskSessions.add(id));
    const initializationOptions: Record<string, unknown> = {
      workspaceRoot: this.directory,
      clientName: CLIENT_NAME,
      bridge: deps.bridge ?? true,
    };
    if (input.serverUrl) initializationOptions.opencodeUrl = String(input.serverUrl);
    if (settings.config) initializationOptions.config = settings.config;
    if (settings.config && !settings.standalone) {
      log.warn("plugin option `config` only applies with `standalone: true`; the shared daemon reads .opencode/orchestrator.json");
    }
    this.server = new OrchestratorServer({
      bin,
      args: settings.standalone ? ["serve", "--standalone"] : ["serve"],
      cwd: this.directory,
      env: deps.env ?? process.env,
      initializationOptions,
      logger: log,
      ...deps.server,
      requestHandlers: {
        "orchestrator/opencode/call": (params) => {
          // Whatever `stats` said at start, the server reaches OpenCode through this plugin now
          // (the shared daemon falls back to a client's bridge when the HTTP OpenCode it used
          // stops answering), and its tasks finish only on the events this plugin forwards.
          this.bridgeCaller = this.server.pid;
          this.forwardEvents = true;
          return bridge.handle(params);
        },
      },
      notificationHandlers: {
        "orchestrator/event": (params) => {
          if (isOrchestratorEvent(params)) this.orderer.push(params);
        },
        "orchestrator/eventsDropped": (params) => {
          const after = (params as { afterSeq?: unknown } | undefined)?.afterSeq;
          log.warn("the orchestrator dropped events for this client; replaying them", { params });
          void this.replay(typeof after === "number" ? after : this.lastDelivered ?? 0);
        },
      },
      onReady: (_server, restarted) => this.afterReady(restarted),
      onRestart: ({ ok, message }) => {
        if (ok) this.toaster.show("The orchestrator server stopped unexpectedly and was restarted.", "warning");
        else this.toaster.show(`The orchestrator server is down: ${message}`, "error");
      },
    });
  }

  async start(): Promise<void> {
    await this.server.start();
    const [tools, agents] = await Promise.all([
      this.server.request<{ tools?: ToolInfo[] }>("orchestrator/tools/list", {}),
      this.server
        .request<{ agents?: AgentInfo[]; commands?: CommandInfo[] }>("orchestrator/agents/list", {})
        .catch((e: unknown) => {
          this.log.warn(`orchestrator/agents/list failed: ${(e as Error).message}; no agents are registered`);
          return { agents: [], commands: [] };
        }),
    ]);
    this.commands = (agents.commands ?? []).filter(
      (c) => typeof c?.name === "string" && /^[a-z][a-z0-9-]*$/.test(c.name) && typeof c.template === "string",
    );
    this.tools = (tools.tools ?? []).filter((t) => typeof t?.name === "string" && /^[A-Za-z0-9_-]+$/.test(t.name));
    this.agents = (agents.agents ?? []).filter((a) => typeof a?.name === "string" && a.name !== "");
    for (const a of this.agents) if (typeof a.displayName === "string") this.displayNames.set(a.name, a.displayName);
    if (this.deps.stopOnExit ?? true) this.unregisterExit = stopOnExit(this.server);
    this.log.info("opencode-orchestrator ready", {
      tools: this.tools.map((t) => t.name),
      agents: this.agents.map((a) => a.name),
      forwardEvents: this.forwardEvents,
    });
  }

  private readonly disposeListeners: Array<() => void> = [];

  onDispose(listener: () => void): void {
    this.disposeListeners.push(listener);
  }

  async dispose(): Promise<void> {
    for (const l of this.disposeListeners.splice(0)) l();
    this.unregisterExit?.();
    this.orderer.dispose();
    await this.server.stop();
  }

  /**
   * Every event after `afterSeq`, delivered in order (after a restart, lost events, or a gap
   * the orderer gave up on). Live events that come meanwhile are held and go out after the
   * replayed ones; a replay asked for while one runs makes one more pass after it.
   */
  replay(afterSeq: number): Promise<void> {
    this.replayFrom = Math.min(this.replayFrom ?? afterSeq, afterSeq);
    this.replaying ??= this.runReplays();
    return this.replaying;
  }

  private async runReplays(): Promise<void> {
    try {
      while (this.replayFrom !== undefined) {
        const from = this.replayFrom;
        this.replayFrom = undefined;
        const before = this.lastDelivered;
        if (!(await this.replayPass(from))) return;
        // The first held event (the orderer lets them out in order) after a gap: the server had
        // the missing ones when it sent it (every event is in the ledger before it is sent), so
        // one more pass brings them, unless this one brought nothing.
        const last = this.lastDelivered;
        const next = last === undefined ? undefined : this.held.find((e) => e.seq > last);
        if (last !== undefined && last !== before && next && next.seq > last + 1) this.replayFrom ??= last;
      }
    } finally {
      this.replaying = undefined;
      this.replayFrom = undefined;
      const held = this.held;
      this.held = [];
      for (const e of held) this.deliver(e);
      if (this.lastDelivered !== undefined) this.orderer.reset(this.lastDelivered);
    }
  }

  /** One replay from `afterSeq` to the server's last event; false when it failed. */
  private async replayPass(afterSeq: number): Promise<boolean> {
    let cursor = afterSeq;
    try {
      for (let page = 0; page < 100; page++) {
        const r = await this.server.request<{ events?: unknown[]; nextSeq?: number; more?: boolean }>(
          "orchestrator/events/replay",
          { afterSeq: cursor, limit: 1000 },
        );
        for (const e of r.events ?? []) if (isOrchestratorEvent(e)) this.deliver(e);
        if (!r.more || typeof r.nextSeq !== "number" || r.nextSeq <= cursor) return true;
        cursor = r.nextSeq;
      }
      return true;
    } catch (e) {
      this.log.warn(`replaying events failed: ${(e as Error).message}`);
      return false;
    }
  }

  private async afterReady(restarted: boolean): Promise<void> {
    try {
      const stats = await this.server.request<{ backend?: unknown }>("orchestrator/stats", {}, { timeoutMs: 5000 });
      // Forward OpenCode's events only when the server reaches OpenCode through this plugin: it
      // says so, or this process already made a bridge call (one may come before the answer).
      const bridged = typeof stats.backend !== "string" || stats.backend.includes("bridge");
      this.forwardEvents = bridged || this.bridgeCaller === this.server.pid;
    } catch (e) {
      this.forwardEvents = true;
      this.log.warn(`orchestrator/stats failed: ${(e as Error).message}`);
    }
    const last = this.lastDelivered;
    if (restarted && last !== undefined) void this.replay(last);
  }

  /** Hands one event to the toasts and listeners, once: replays and live events overlap. */
  private deliver(event: OrchestratorEvent): void {
    if (this.lastDelivered !== undefined && event.seq <= this.lastDelivered) return;
    this.lastDelivered = event.seq;
    const maxAge = this.deps.toastMaxAgeMs ?? 60_000;
    if (typeof event.time !== "number" || Date.now() - event.time <= maxAge) this.toaster.onEvent(event);
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** Forwards one OpenCode bus event to the server, if it cares; never waits. */
  forward(event: unknown): void {
    if (!this.forwardEvents) return;
    const out = eventToForward(event, (id) => this.taskSessions.has(id));
    if (out !== undefined) this.server.notify("orchestrator/opencode/event", { event: out });
  }

  /**
   * `/task <goal>`: the mission is started, bound to this session, before the command's prompt
   * (the server's template, with the goal) reaches the Commander. `/task resume` resumes the
   * session's paused or stopped mission instead. A refusal (of the arguments or by the server)
   * replaces the prompt with the reason.
   */
  async onTask(sessionID: string, args: string, parts: unknown[]): Promise<void> {
    let resume = false;
    const followed = this.taskSessions.has(sessionID);
    try {
      const parsed = parseTaskArgs(args);
      resume = parsed.resume;
      const budgets = parsed.budgets ? { budgets: parsed.budgets } : {};
      // The server follows this session's messages from now on (a user message pauses the mission).
      this.taskSessions.add(sessionID);
      if (parsed.resume) {
        const r = await this.server.request<{ mission?: { missionId?: string; goal?: string } }>(
          "orchestrator/mission/resume",
          { sessionId: sessionID, ...budgets },
        );
        replaceCommandText(
          parts,
          `${MARKER} The user resumed mission ${r.mission?.missionId ?? ""}: ${r.mission?.goal ?? ""}\n\n` +
            "Call plan_get to see where it stands, then carry on from there.",
        );
        return;
      }
      await this.server.request("orchestrator/mission/start", {
        goal: parsed.goal,
        sessionId: sessionID,
        prompt: false,
        ...budgets,
      });
    } catch (e) {
      // No mission runs here because of this command: the session is not followed for it.
      if (!followed) this.taskSessions.delete(sessionID);
      const message = (e as Error).message;
      const what = resume ? "be resumed" : "start";
      this.toaster.show(`The mission could not ${what}: ${message}`, "error");
      replaceCommandText(
        parts,
        `${MARKER} The mission could not ${what}: ${message}\n\n` +
          "Tell the user this in one sentence, and what to do about it. Do not start the work.",
      );
    }
  }

  /** `/stop`: cancels the session's mission (and its running tasks) before the prompt goes. */
  async onStop(sessionID: string, parts: unknown[]): Promise<void> {
    try {
      await this.server.request("orchestrator/mission/cancel", { sessionId: sessionID });
    } catch (e) {
      replaceCommandText(
        parts,
        `${MARKER} The user typed /stop, but: ${(e as Error).message}\n\nTell the user in one sentence.`,
      );
    }
  }

  private makeTool(info: ToolInfo): ToolDefinition {
    const server = this.server;
    const options = this.deps.tools;
    return tool({
      description: info.description ?? info.name,
      args: toZodShape(info.inputSchema),
      execute: async (args: Record<string, unknown>, ctx: ToolContext) => {
        const r = await callTool(server, info.name, args, ctx, options);
        return { title: r.title ?? info.name, output: r.output, metadata: r.metadata };
      },
    });
  }

  hooks(): Hooks {
    const tools: Record<string, ToolDefinition> = {};
    for (const t of this.tools) tools[t.name] = this.makeTool(t);
    return {
      tool: tools,
      config: (cfg) => {
        try {
          this.registeredCommands = applyConfig(cfg, this.agents, this.commands, this.log);
        } catch (e) {
          this.log.error(`registering the agents failed: ${(e as Error).message}`);
        }
        return Promise.resolve();
      },
      "command.execute.before": async (input, output) => {
        // Only the commands the plugin registered: a `/task` of the user's own is left alone.
        if (!this.registeredCommands.has(input.command)) return;
        try {
          if (input.command === "task") await this.onTask(input.sessionID, input.arguments, output.parts);
          else if (input.command === "stop") await this.onStop(input.sessionID, output.parts);
        } catch (e) {
          this.log.error(`/${input.command} failed: ${(e as Error).message}`);
        }
      },
      event: ({ event }) => {
        try {
          this.forward(event);
        } catch {
          // never disturb OpenCode's event loop
        }
        return Promise.resolve();
      },
      dispose: () => this.dispose(),
    };
  }
}

/**
 * Runtimes alive in this process by project directory, shared by every copy of the plugin (the
 * file in the plugin folder and the same file listed in the config are two module instances).
 */
const LIVE_KEY = Symbol.for("opencode-orchestrator.runtimes");

function liveRuntimes(): Map<string, OrchestratorRuntime> {
  const g = globalThis as { [LIVE_KEY]?: Map<string, OrchestratorRuntime> };
  g[LIVE_KEY] ??= new Map();
  return g[LIVE_KEY];
}

/** Builds the plugin's hooks; `runtime` is undefined when the server cannot run. */
export async function createOrchestrator(
  input: PluginInput,
  rawOptions?: unknown,
  deps: RuntimeDeps = {},
): Promise<{ hooks: Hooks; runtime?: OrchestratorRuntime }> {
  const env = deps.env ?? process.env;
  const log = createLogger(input.client, env);
  const settings = parseOptions(rawOptions, log);
  const directory = path.resolve(input.directory || process.cwd());
  const live = liveRuntimes();
  if (live.has(directory)) {
    log.warn(`opencode-orchestrator is loaded twice for ${directory} (from the plugin folder and the config's "plugin" list?); this copy does nothing`);
    return { hooks: {} };
  }
  const found = findBinary(settings.bin, env, directory);
  if (!found.ok) {
    log.error(found.message);
    return { hooks: unavailableHooks(found.message) };
  }
  const runtime = new OrchestratorRuntime(input, settings, found.path, log, deps);
  try {
    await runtime.start();
  } catch (e) {
    const message = `opencode-orchestrator is unavailable: ${(e as Error).message} (server binary: ${found.path})`;
    log.error(message);
    await runtime.dispose().catch(() => undefined);
    return { hooks: unavailableHooks(message) };
  }
  live.set(directory, runtime);
  runtime.onDispose(() => {
    if (live.get(directory) === runtime) live.delete(directory);
  });
  return { hooks: runtime.hooks(), runtime };
}

