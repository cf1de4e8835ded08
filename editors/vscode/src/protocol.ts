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

/** `mission/get`'s mission, checked: a reply without one is an error saying so. */
export function missionOfReply(reply: unknown, what: string): MissionFull {
  const m = isRecord(reply) ? reply.mission : undefined;
  if (!isRecord(m) || typeof m.missionId !== "string" || typeof m.status !== "string") {
    throw new Error(`${what}: the server's reply has no mission (${String(JSON.stringify(reply)).slice(0, 200)})`);
  }
  return m as unknown as MissionFull;
}

/** `task/get`'s task, checked: a reply without one is an error saying so. */
export function taskOfReply(reply: unknown, what: string): TaskRecord {
  const t = isRecord(reply) ? reply.task : undefined;
  if (!isRecord(t) || typeof t.id !== "string" || typeof t.agent !== "string" || typeof t.status !== "string") {
    throw new Error(`${what}: the server's reply has no task (${String(JSON.stringify(reply)).slice(0, 200)})`);
  }
  return t as unknown as TaskRecord;
}

export function taskSummaryFromRecord(t: TaskRecord): TaskSummary {
  const { id, prompt: _p, result: _r, reasoning: _s, usage: _u, model: _m, ...rest } = t;
  return { ...rest, taskId: id };
}

export function isTerminalTask(status: string | undefined): boolean {
  return status !== undefined && status !== "queued" && status !== "running";
}

