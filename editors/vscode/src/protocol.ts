// The parts of the orchestrator protocol (docs/PROTOCOL.md) the extension reads. Everything the
// server sends is checked where it is used: fields may be missing, and unknown ones are ignored.

export const Methods = {
  missionStart: "orchestrator/mission/start",
  missionGet: "orchestrator/mission/get",
  missionList: "orchestrator/mission/list",
  missionCancel: "orchestrator/mission/cancel",
  taskGet: "orchestrator/task/get",
  taskList: "orchestrator/task/list",
  stats: "orchestrator/stats",
  eventsReplay: "orchestrator/events/replay",
} as const;

export const Notifications = {
  event: "orchestrator/event",
  eventsDropped: "orchestrator/eventsDropped",
} as const;

export type MissionStatus = "active" | "paused" | "stopped" | "completed" | "cancelled";
export type ItemStatus = "pending" | "running" | "done" | "failed" | "cancelled" | "skipped";
export type TaskStatus = "queued" | "running" | "completed" | "failed" | "cancelled" | "timed_out" | "interrupted";

export const ACTIVE_TASK_STATUSES: readonly TaskStatus[] = ["queued", "running"];

export interface MissionProgress {
  done: number;
  total: number;
  running: number;
  failed: number;
  line?: string;
}

export interface Spend {
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  tokens?: number;
  cost: number;
}

/** `mission/start`, `mission/list` and `mission/cancel` return this. */
export interface MissionSummary {
  missionId: string;
  sessionId?: string;
  goal: string;
  status: MissionStatus;
  level?: string | null;
  reason?: string | null;
  progress?: MissionProgress;
  tasks?: number;
  continuations?: number;
  verificationRounds?: number;
  spend?: Spend;
  activeMs?: number;
  createdAt?: number;
  updatedAt?: number;
  finishedAt?: number | null;
}

export interface PlanItem {
  id: string;
  title: string;
  agent?: string;
  parent?: string | null;
  dependsOn?: string[];
  description?: string;
  status: ItemStatus;
  taskId?: string | null;
  result?: string | null;
  attempts?: number;
}

export interface TaskSpend {
  taskId: string;
  inMission: boolean;
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cost: number;
}

export interface DelegatedTask {
  taskId: string;
  agent: string;
  description: string;
  running: boolean;
}

/** `mission/get`'s `mission`. */
export interface MissionFull extends MissionSummary {
  triageReason?: string | null;
  plan?: { items: PlanItem[]; revision: number };
  taskIds?: string[];
  /** Tasks delegated under the mission outside its plan (the Commander's own, and theirs). */
  delegated?: DelegatedTask[];
  taskSpend?: TaskSpend[];
  rounds?: Array<{ round: number; taskId?: string; verdict?: string; evidence?: string; fixItems?: string[]; abandoned?: string }>;
}

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  reasoningTokens?: number;
  cost?: number;
}

/** What task events and `task/list` carry (a summary: no prompt, result, reasoning, usage). */
export interface TaskSummary {
  taskId: string;
  agent: string;
  description: string;
  status: TaskStatus;
  parentSessionId?: string;
  sessionId?: string;
  missionId?: string;
  planItem?: string;
  createdAt?: number;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  error?: string;
}

/** `task/get`'s `task`: the full record. */
export interface TaskRecord extends Omit<TaskSummary, "taskId"> {
  id: string;
  prompt?: string;
  result?: string;
  reasoning?: string;
  model?: string;
  usage?: Usage;
}

export interface Stats {
  running: number;
  queued: number;
  lastSeq: number;
  backend?: string;
  workspaceRoot?: string;
  client?: { name?: string; droppedEvents?: number };
}

export interface OrchestratorEvent {
  seq: number;
  time?: number;
  type: string;
  data?: Record<string, unknown>;
}

export interface ReplayResult {
  events: OrchestratorEvent[];
  nextSeq: number;
  more: boolean;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function isOrchestratorEvent(v: unknown): v is OrchestratorEvent {
  if (!isRecord(v)) return false;
  return typeof v.seq === "number" && Number.isSafeInteger(v.seq) && typeof v.type === "string";
}

// The server's replies, checked where the extension reads them: a reply without what it needs
// is an error naming the request, never a crash further on.

function shown(reply: unknown): string {
  return String(JSON.stringify(reply)).slice(0, 200);
}

function isMission(m: unknown): m is Record<string, unknown> {
  return isRecord(m) && typeof m.missionId === "string" && typeof m.status === "string";
}

function isTask(t: unknown, idKey: "id" | "taskId"): t is Record<string, unknown> {
  return isRecord(t) && typeof t[idKey] === "string" && typeof t.agent === "string" && typeof t.status === "string";
}

/** The `mission` of a reply, checked: a reply without one is an error saying so. */
function missionIn(reply: unknown, what: string): Record<string, unknown> {
  const m = isRecord(reply) ? reply.mission : undefined;
  if (!isMission(m)) throw new Error(`${what}: the server's reply has no mission (${shown(reply)})`);
  return m;
}

/** `mission/get`'s mission, checked. */
export function missionOfReply(reply: unknown, what: string): MissionFull {
  return missionIn(reply, what) as unknown as MissionFull;
}

/** The mission summary of `mission/start` or `mission/cancel`, checked. */
export function missionSummaryOfReply(reply: unknown, what: string): MissionSummary {
  return missionIn(reply, what) as unknown as MissionSummary;
}

/** `mission/list`'s missions, checked. */
export function missionsOfReply(reply: unknown, what: string): MissionSummary[] {
  const list = isRecord(reply) ? reply.missions : undefined;
  if (!Array.isArray(list) || !list.every(isMission)) throw new Error(`${what}: the server's reply has no list of missions (${shown(reply)})`);
  return list as unknown as MissionSummary[];
}

/** `task/get`'s task, checked: a reply without one is an error saying so. */
export function taskOfReply(reply: unknown, what: string): TaskRecord {
  const t = isRecord(reply) ? reply.task : undefined;
  if (!isTask(t, "id")) throw new Error(`${what}: the server's reply has no task (${shown(reply)})`);
  return t as unknown as TaskRecord;
}

/** `task/list`'s tasks, checked. */
export function tasksOfReply(reply: unknown, what: string): TaskSummary[] {
  const list = isRecord(reply) ? reply.tasks : undefined;
  if (!Array.isArray(list) || !list.every((t) => isTask(t, "taskId"))) throw new Error(`${what}: the server's reply has no list of tasks (${shown(reply)})`);
  return list as unknown as TaskSummary[];
}

/** `mission/cancel`'s reply, checked. */
export function cancelOfReply(reply: unknown, what: string): { mission: MissionSummary; cancelled: boolean } {
  const mission = missionSummaryOfReply(reply, what);
  const cancelled = isRecord(reply) ? reply.cancelled : undefined;
  if (typeof cancelled !== "boolean") throw new Error(`${what}: the server's reply does not say whether it cancelled (${shown(reply)})`);
  return { mission, cancelled };
}

/** `orchestrator/stats`, checked for what the extension reads. */
export function statsOfReply(reply: unknown, what: string): Stats {
  if (!isRecord(reply) || !Number.isSafeInteger(reply.lastSeq) || typeof reply.running !== "number" || typeof reply.queued !== "number") {
    throw new Error(`${what}: the server's reply has no counts and last event number (${shown(reply)})`);
  }
  return reply as unknown as Stats;
}

/** `events/replay`'s page, checked (the events themselves are checked one by one). */
export function replayOfReply(reply: unknown, what: string): ReplayResult {
  if (!isRecord(reply) || !Array.isArray(reply.events) || typeof reply.more !== "boolean") {
    throw new Error(`${what}: the server's reply has no page of events (${shown(reply)})`);
  }
  return reply as unknown as ReplayResult;
}

export function taskSummaryFromRecord(t: TaskRecord): TaskSummary {
  const { id, prompt: _p, result: _r, reasoning: _s, usage: _u, model: _m, ...rest } = t;
  return { ...rest, taskId: id };
}

export function isTerminalTask(status: string | undefined): boolean {
  return status !== undefined && status !== "queued" && status !== "running";
}

