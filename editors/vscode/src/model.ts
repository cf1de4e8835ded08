// The tree of missions, their plans and tasks, kept from the server's events (applied in `seq`
// order) and from `mission/get` results. No `vscode` here: src/treeView.ts maps its nodes to
// TreeItems, and the tests drive it directly.
//
// - A mission's summary fields (status, progress, level, reason) come straight from its
//   `mission.*` events; its plan, spend and task list come from `mission/get`, fetched after
//   each of its events: coalesced over `debounceMs`, never more than one request in flight per
//   mission (events that come while one is in flight cause one more fetch after it).
// - Tasks come from `task.*` events, `task/list` snapshots and `task/get`. A task's status only
//   moves forward (queued → running → an end), so an older snapshot never undoes an event.

import { firstLine, formatCost, formatDuration, formatTokens, tokensOf } from "./format";
import {
  isRecord,
  isTerminalTask,
  type ItemStatus,
  type MissionFull,
  type MissionStatus,
  type MissionSummary,
  type OrchestratorEvent,
  type PlanItem,
  type TaskRecord,
  type TaskSpend,
  type TaskStatus,
  type TaskSummary,
  type Usage,
  taskSummaryFromRecord,
} from "./protocol";

export type ModelNode =
  | { readonly kind: "mission"; readonly id: string; readonly missionId: string }
  | { readonly kind: "item"; readonly id: string; readonly missionId: string; readonly itemId: string }
  | { readonly kind: "task"; readonly id: string; readonly taskId: string }
  | { readonly kind: "other"; readonly id: string };

/** What a tree row shows; src/treeView.ts turns it into a TreeItem. */
export interface NodeView {
  label: string;
  description: string;
  tooltip: string;
  /** A codicon id (`sync~spin`, `check`, ...). */
  icon: string;
  /** A theme color id for the icon, if any. */
  iconColor?: string;
  collapsible: boolean;
  /** The tree item's `contextValue` (menus in package.json match it). */
  contextValue: string;
  /** The task whose result "Open Task Result" shows for this row. */
  taskId?: string;
}

export interface ModelOptions {
  /** `orchestrator/mission/get` for one mission. */
  fetchMission: (missionId: string) => Promise<MissionFull>;
  /** `orchestrator/task/get`; without it, tasks the events did not describe stay unknown. */
  fetchTask?: (taskId: string) => Promise<TaskRecord>;
  /** Wait this long after a mission's event before fetching it (default 200). */
  debounceMs?: number;
  /** Where failed fetches are reported. */
  onError?: (message: string) => void;
  now?: () => number;
}

interface MissionEntry {
  summary: MissionSummary;
  details?: MissionFull;
  timer?: NodeJS.Timeout;
  inFlight: boolean;
  /** Another fetch is wanted after the one in flight. */
  again: boolean;
  /** A `mission.*` event was applied after the request in flight was sent. */
  eventSinceSend: boolean;
  /** Known only from a task's `missionId`: hidden until `mission/get` describes it. */
  placeholder?: boolean;
  /** `time` of the last `mission.*` event applied. */
  eventTime?: number;
}

interface TaskEntry {
  summary: TaskSummary;
  usage?: Usage;
  /** The last `task.progress` or `task.retry` message. */
  activity?: string;
}

export interface TaskCounts {
  running: number;
  queued: number;
}

const TASK_RANK: Record<TaskStatus, number> = {
  queued: 0,
  running: 1,
  completed: 2,
  failed: 2,
  cancelled: 2,
  timed_out: 2,
  interrupted: 2,
};

const MISSION_ICONS: Record<MissionStatus, string> = {
  active: "sync~spin",
  paused: "debug-pause",
  stopped: "stop-circle",
  completed: "check",
  cancelled: "circle-slash",
};

const ITEM_ICONS: Record<ItemStatus, string> = {
  pending: "circle-outline",
  running: "sync~spin",
  done: "check",
  failed: "error",
  cancelled: "circle-slash",
  skipped: "circle-slash",
};

const TASK_ICONS: Record<TaskStatus, string> = {
  queued: "circle-outline",
  running: "sync~spin",
  completed: "check",
  failed: "error",
  cancelled: "circle-slash",
  timed_out: "error",
  interrupted: "error",
};

const ICON_COLORS: Record<string, string> = {
  check: "testing.iconPassed",
  error: "testing.iconFailed",
};

/** Codicon of a mission, plan item or task status (unknown statuses get a question mark). */
export function statusIcon(kind: "mission" | "item" | "task", status: string): string {
  const table: Record<string, string> = kind === "mission" ? MISSION_ICONS : kind === "item" ? ITEM_ICONS : TASK_ICONS;
  return table[status] ?? "question";
}

/** Finished missions and non-mission tasks kept beyond the newest ones are forgotten. */
const MAX_MISSIONS = 100;
const MAX_OTHER_TASKS = 200;
const MAX_FETCHES = 4;

export class MissionTreeModel {
  private readonly missions = new Map<string, MissionEntry>();
  private readonly tasks = new Map<string, TaskEntry>();
  private readonly nodes = new Map<string, ModelNode>();
  private readonly listeners = new Set<() => void>();
  private readonly taskQueue: string[] = [];
  private readonly taskWanted = new Set<string>();
  private tasksInFlight = 0;
  /** Which mission lists which task, and which mission runs in which session (rebuilt on change). */
  private index: { byTask: Map<string, string>; bySession: Map<string, string> } | undefined;
  /** Pruning sorts: it runs again only after this many more tasks or missions. */
  private pruneAt = 0;
  private readonly debounceMs: number;
  private readonly now: () => number;
  private disposed = false;

  constructor(private readonly options: ModelOptions) {
    this.debounceMs = options.debounceMs ?? 200;
    this.now = options.now ?? (() => Date.now());
  }

  /** Called after every change (a tree adapter coalesces these). */
  onDidChange(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  dispose(): void {
    this.disposed = true;
    for (const m of this.missions.values()) if (m.timer) clearTimeout(m.timer);
    this.listeners.clear();
  }

  // ---- input ---------------------------------------------------------------------------------

  /** Applies one `orchestrator/event` (in `seq` order). */
  applyEvent(event: OrchestratorEvent): void {
    this.index = undefined;
    const data = event.data ?? {};
    const type = event.type;
    if (type.startsWith("mission.")) {
      this.applyMissionEvent(type, data, event.time);
    } else if (type.startsWith("task.")) {
      this.applyTaskEvent(type, data);
    } else {
      return;
    }
    this.changed();
  }

  /**
   * Summaries from `mission/start`, `mission/list` or `mission/cancel`. A reply older than the
   * mission's last event (its `updatedAt` not after the event's `time`) does not undo what the
   * event said (status, progress, reason, level): `mission/start`'s reply often comes after the
   * mission has moved on.
   */
  upsertMissions(summaries: MissionSummary[]): void {
    for (const s of summaries) {
      const m = this.missions.get(s.missionId);
      if (m) m.summary = this.merged(m, s, false);
      else this.missions.set(s.missionId, { summary: { ...s }, inFlight: false, again: false, eventSinceSend: false });
    }
    this.prune();
    this.changed();
  }

  /** Summaries from `task/list` or events; records from `task/get`. */
  upsertTasks(tasks: Array<TaskSummary | TaskRecord>): void {
    for (const t of tasks) this.mergeTask(t);
    this.prune();
    this.changed();
  }

  /**
   * After a gap (start, reconnect, dropped events): `openTaskIds` are the tasks the server
   * says are queued or running now. Tasks the model still thinks are running but that are not
   * among them ended in the gap: they are fetched again. Missions with a loaded plan are
   * fetched again too.
   */
  reconcile(openTaskIds: ReadonlySet<string>): void {
    for (const [id, t] of this.tasks) {
      if (!isTerminalTask(t.summary.status) && !openTaskIds.has(id)) this.wantTask(id);
    }
    for (const [id, m] of this.missions) if (m.details) this.refreshMission(id);
  }

  /** Fetches a mission's details soon (coalesced; one request in flight at most). */
  refreshMission(missionId: string): void {
    const m = this.missions.get(missionId);
    if (!m || this.disposed) return;
    if (m.timer) return;
    m.timer = setTimeout(() => {
      m.timer = undefined;
      this.fetchMission(missionId);
    }, this.debounceMs);
    m.timer.unref?.();
  }

  /** Applies a `mission/get` result (also what the model's own fetches do). */
  setMissionDetails(full: MissionFull, keepSummary = false): void {
    const m = this.missions.get(full.missionId);
    if (!m) {
      this.missions.set(full.missionId, { summary: summaryOf(full), details: full, inFlight: false, again: false, eventSinceSend: false });
    } else {
      // Items a plan revision dropped are gone from the tree: so are their nodes.
      const kept = new Set((full.plan?.items ?? []).map((i) => i.id));
      for (const i of m.details?.plan?.items ?? []) if (!kept.has(i.id)) this.nodes.delete(`item:${full.missionId}:${i.id}`);
      m.details = full;
      m.placeholder = false;
      // Fields the events carry are newer than a reply to a request sent before them.
      m.summary = this.merged(m, summaryOf(full), keepSummary);
    }
    for (const id of full.taskIds ?? []) if (!this.tasks.has(id)) this.wantTask(id);
    for (const d of full.delegated ?? []) if (!this.tasks.has(d.taskId)) this.wantTask(d.taskId);
    for (const s of full.taskSpend ?? []) if (!this.tasks.has(s.taskId)) this.wantTask(s.taskId);
    this.changed();
  }

  private merged(m: MissionEntry, reply: MissionSummary, eventSinceSend: boolean): MissionSummary {
    const older = eventSinceSend || (m.eventTime !== undefined && reply.updatedAt !== undefined && reply.updatedAt <= m.eventTime);
    if (!older) return { ...m.summary, ...reply };
    const s = m.summary;
    return { ...s, ...reply, status: s.status, progress: s.progress, reason: s.reason, level: s.level ?? reply.level };
  }

  // ---- queries -------------------------------------------------------------------------------

  mission(missionId: string): MissionSummary | undefined {
    return this.missions.get(missionId)?.summary;
  }

  missionDetails(missionId: string): MissionFull | undefined {
    return this.missions.get(missionId)?.details;
  }

  task(taskId: string): TaskSummary | undefined {
    return this.tasks.get(taskId)?.summary;
  }

  /** Missions newest first. */
  missionList(): MissionSummary[] {
    return [...this.missions.values()].filter((m) => !m.placeholder).map((m) => m.summary).sort(byNewest);
  }

  /** Whether a mission's details are being fetched or will be soon. */
  isRefreshing(missionId: string): boolean {
    const m = this.missions.get(missionId);
    return !!m && (m.inFlight || m.timer !== undefined);
  }

  /** Queued and running tasks the model knows of. */
  taskCounts(): TaskCounts {
    let running = 0;
    let queued = 0;
    for (const t of this.tasks.values()) {
      if (t.summary.status === "running") running++;
      else if (t.summary.status === "queued") queued++;
    }
    return { running, queued };
  }

  missionNode(missionId: string): ModelNode {
    return this.node({ kind: "mission", id: `mission:${missionId}`, missionId });
  }

  taskNode(taskId: string): ModelNode {
    return this.node({ kind: "task", id: `task:${taskId}`, taskId });
  }

  itemNode(missionId: string, itemId: string): ModelNode {
    return this.node({ kind: "item", id: `item:${missionId}:${itemId}`, missionId, itemId });
  }

  otherNode(): ModelNode {
    return this.node({ kind: "other", id: "other" });
  }

  /** Top level: missions newest first, then "Other tasks" when there are any. */
  roots(): ModelNode[] {
    const roots = this.missionList().map((m) => this.missionNode(m.missionId));
    if (this.otherTasks().length > 0) roots.push(this.otherNode());
    return roots;
  }

  /**
   * A node's children. A mission whose details were never fetched gets them fetched (its
   * children show up with the next change).
   */
  children(node: ModelNode): ModelNode[] {
    switch (node.kind) {
      case "mission": {
        const m = this.missions.get(node.missionId);
        if (!m) return [];
        if (!m.details) {
          if (!m.inFlight) this.refreshMission(node.missionId);
          return [];
        }
        const items = m.details.plan?.items ?? [];
        const roots = items.filter((i) => !i.parent).map((i) => this.itemNode(node.missionId, i.id));
        return [...roots, ...this.outsidePlanTasks(node.missionId).map((t) => this.taskNode(t.taskId))];
      }
      case "item": {
        const items = this.missions.get(node.missionId)?.details?.plan?.items ?? [];
        return items.filter((i) => i.parent === node.itemId).map((i) => this.itemNode(node.missionId, i.id));
      }
      case "other":
        return this.otherTasks().map((t) => this.taskNode(t.taskId));
      case "task":
        return [];
    }
  }

  parent(node: ModelNode): ModelNode | undefined {
    switch (node.kind) {
      case "mission":
      case "other":
        return undefined;
      case "item": {
        const item = this.planItem(node.missionId, node.itemId);
        return item?.parent ? this.itemNode(node.missionId, item.parent) : this.missionNode(node.missionId);
      }
      case "task": {
        const t = this.tasks.get(node.taskId)?.summary;
        const missionId = t ? this.missionOf(t) : undefined;
        return missionId ? this.missionNode(missionId) : this.otherNode();
      }
    }
  }

  view(node: ModelNode): NodeView {
    switch (node.kind) {
      case "mission":
        return this.missionView(node.missionId);
      case "item":
        return this.itemView(node.missionId, node.itemId);
      case "task":
        return this.taskView(node.taskId);
      case "other": {
        const n = this.otherTasks().length;
        return {
          label: "Other tasks",
          description: `${n}`,
          tooltip: "Tasks delegated outside any mission",
          icon: "tasklist",
          collapsible: true,
          contextValue: "other",
        };
      }
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  private applyMissionEvent(type: string, data: Record<string, unknown>, time: number | undefined): void {
    const missionId = str(data.missionId);
    if (!missionId) return;
    let m = this.missions.get(missionId);
    if (!m) {
      m = {
        summary: { missionId, goal: str(data.goal) ?? "", status: "active", createdAt: this.now() },
        inFlight: false,
        again: false,
        eventSinceSend: false,
      };
      this.missions.set(missionId, m);
      this.prune();
    }
    m.placeholder = false;
    if (typeof time === "number") m.eventTime = Math.max(m.eventTime ?? 0, time);
    const s = m.summary;
    const status = str(data.status);
    if (status) s.status = status as MissionStatus;
    const sessionId = str(data.sessionId);
    if (sessionId) s.sessionId = sessionId;
    if (isRecord(data.progress)) s.progress = { ...s.progress, ...(data.progress as unknown as MissionSummary["progress"]) } as MissionSummary["progress"];
    const goal = str(data.goal);
    if (goal) s.goal = goal;
    const level = str(data.level);
    if (type === "mission.triaged" && level) s.level = level;
    const reason = str(data.reason);
    if (reason) s.reason = reason;
    else if (type === "mission.resumed" || type === "mission.started") s.reason = null;
    if (m.inFlight) m.eventSinceSend = true;
    this.refreshMission(missionId);
  }

  private applyTaskEvent(type: string, data: Record<string, unknown>): void {
    const taskId = str(data.taskId);
    if (!taskId) return;
    switch (type) {
      case "task.progress": {
        const t = this.tasks.get(taskId);
        const message = str(data.message);
        if (t && message) t.activity = message;
        return;
      }
      case "task.retry": {
        const t = this.tasks.get(taskId);
        if (t) t.activity = `retry ${String(data.attempt)}/${String(data.maxRetries)}: ${str(data.error) ?? ""}`;
        return;
      }
      case "task.reattached": {
        const t = this.tasks.get(taskId);
        if (t && !isTerminalTask(t.summary.status)) t.summary.status = "running";
        return;
      }
      default:
        break;
    }
    if (typeof data.agent !== "string" || typeof data.status !== "string") return;
    const summary = data as unknown as TaskSummary;
    this.mergeTask(summary);
    if (summary.missionId && !this.missions.has(summary.missionId)) {
      // A mission that started before this client connected: read it.
      this.missions.set(summary.missionId, {
        summary: { missionId: summary.missionId, goal: "", status: "active", createdAt: summary.createdAt ?? this.now() },
        inFlight: false,
        again: false,
        eventSinceSend: false,
        placeholder: true,
      });
      this.refreshMission(summary.missionId);
    }
    this.prune();
    // Events carry no usage: a finished task outside any mission is read once for its tokens
    // (a mission's tasks get theirs from mission/get's taskSpend).
    if (isTerminalTask(summary.status) && !this.missionOf(summary)) this.wantTask(taskId);
  }

  private mergeTask(t: TaskSummary | TaskRecord): void {
    const summary: TaskSummary = "id" in t ? taskSummaryFromRecord(t) : t;
    const usage = "id" in t ? t.usage : undefined;
    const known = this.tasks.get(summary.taskId);
    if (!known) {
      this.tasks.set(summary.taskId, { summary: { ...summary }, usage });
      return;
    }
    const older = (TASK_RANK[summary.status] ?? 0) < (TASK_RANK[known.summary.status] ?? 0);
    known.summary = older ? { ...summary, ...known.summary } : { ...known.summary, ...summary };
    if (usage) known.usage = usage;
    if (isTerminalTask(known.summary.status)) known.activity = undefined;
  }

  private wantTask(taskId: string): void {
    if (!this.options.fetchTask || this.disposed || this.taskWanted.has(taskId)) return;
    this.taskWanted.add(taskId);
    this.taskQueue.push(taskId);
    this.pumpTasks();
  }

  private pumpTasks(): void {
    const fetchTask = this.options.fetchTask;
    if (!fetchTask) return;
    while (this.tasksInFlight < MAX_FETCHES && this.taskQueue.length > 0) {
      const id = this.taskQueue.shift() as string;
      this.tasksInFlight++;
      fetchTask(id)
        .then(
          (record) => {
            if (!this.disposed) this.upsertTasks([record]);
          },
          (e: unknown) => this.options.onError?.(`task/get ${id} failed: ${message(e)}`),
        )
        .finally(() => {
          this.tasksInFlight--;
          this.taskWanted.delete(id);
          if (!this.disposed) this.pumpTasks();
        })
        // A reply the model cannot take is a bug to log, not an unhandled rejection.
        .catch((e: unknown) => this.options.onError?.(`applying task/get ${id} failed: ${message(e)}`));
    }
  }

  private fetchMission(missionId: string): void {
    const m = this.missions.get(missionId);
    if (!m || this.disposed) return;
    if (m.inFlight) {
      m.again = true;
      return;
    }
    m.inFlight = true;
    m.eventSinceSend = false;
    this.options
      .fetchMission(missionId)
      .then(
        (full) => {
          if (this.disposed) return;
          this.setMissionDetails(full, m.eventSinceSend);
        },
        (e: unknown) => this.options.onError?.(`mission/get ${missionId} failed: ${message(e)}`),
      )
      .finally(() => {
        m.inFlight = false;
        if (m.again || m.eventSinceSend) {
          m.again = false;
          m.eventSinceSend = false;
          this.refreshMission(missionId);
        }
      })
      // A reply the model cannot take is a bug to log, not an unhandled rejection.
      .catch((e: unknown) => this.options.onError?.(`applying mission/get ${missionId} failed: ${message(e)}`));
  }

  private changed(): void {
    this.index = undefined;
    for (const l of [...this.listeners]) {
      try {
        l();
      } catch {
        // a listener's failure must not stop the model
      }
    }
  }

  private node(n: ModelNode): ModelNode {
    const known = this.nodes.get(n.id);
    if (known) return known;
    this.nodes.set(n.id, n);
    return n;
  }

  /**
   * The mission a task belongs to: its `missionId`; else the mission whose `mission/get` lists
   * it (`taskIds`, `delegated`, `taskSpend`); else the mission whose session delegated it (the Architect's
   * task, whose summary has no `missionId`).
   */
  private missionOf(t: TaskSummary): string | undefined {
    if (t.missionId) return t.missionId;
    if (!this.index) {
      const byTask = new Map<string, string>();
      const bySession = new Map<string, string>();
      for (const [id, m] of this.missions) {
        for (const taskId of m.details?.taskIds ?? []) byTask.set(taskId, id);
        for (const d of m.details?.delegated ?? []) byTask.set(d.taskId, id);
        for (const s of m.details?.taskSpend ?? []) byTask.set(s.taskId, id);
        if (m.summary.sessionId) bySession.set(m.summary.sessionId, id);
      }
      this.index = { byTask, bySession };
    }
    return this.index.byTask.get(t.taskId) ?? (t.parentSessionId ? this.index.bySession.get(t.parentSessionId) : undefined);
  }

  private planItem(missionId: string, itemId: string): PlanItem | undefined {
    return this.missions.get(missionId)?.details?.plan?.items.find((i) => i.id === itemId);
  }

  /** The mission's tasks that run no plan item (verification, the Architect's, ...). */
  private outsidePlanTasks(missionId: string): TaskSummary[] {
    const details = this.missions.get(missionId)?.details;
    const planTasks = new Set((details?.plan?.items ?? []).map((i) => i.taskId).filter((id): id is string => !!id));
    const ids = new Set<string>();
    for (const t of this.tasks.values()) if (this.missionOf(t.summary) === missionId) ids.add(t.summary.taskId);
    for (const id of details?.taskIds ?? []) ids.add(id);
    for (const d of details?.delegated ?? []) ids.add(d.taskId);
    for (const s of details?.taskSpend ?? []) ids.add(s.taskId);
    const out: TaskSummary[] = [];
    for (const id of ids) {
      if (planTasks.has(id)) continue;
      const t = this.tasks.get(id)?.summary;
      // Unknown tasks are being fetched; earlier attempts of a plan item are not shown apart.
      if (!t || (t.planItem && this.planItem(missionId, t.planItem))) continue;
      out.push(t);
    }
    return out.sort(byCreated);
  }

  private otherTasks(): TaskSummary[] {
    const out: TaskSummary[] = [];
    for (const t of this.tasks.values()) if (!this.missionOf(t.summary)) out.push(t.summary);
    return out.sort(byCreated).reverse();
  }

  private taskSpend(missionId: string | undefined, taskId: string): TaskSpend | undefined {
    if (!missionId) return undefined;
    return this.missions.get(missionId)?.details?.taskSpend?.find((s) => s.taskId === taskId);
  }

  private taskTokens(taskId: string, missionId?: string): number | undefined {
    const spend = this.taskSpend(missionId, taskId);
    if (spend) return tokensOf(spend);
    const usage = this.tasks.get(taskId)?.usage;
    return usage ? tokensOf(usage) : undefined;
  }

  private taskDuration(t: TaskSummary): number | undefined {
    if (typeof t.durationMs === "number") return t.durationMs;
    if (typeof t.startedAt !== "number") return undefined;
    if (typeof t.finishedAt === "number") return t.finishedAt - t.startedAt;
    return t.status === "running" ? Math.max(0, this.now() - t.startedAt) : undefined;
  }

  private missionView(missionId: string): NodeView {
    const m = this.missions.get(missionId);
    const s = m?.summary ?? { missionId, goal: "", status: "active" as MissionStatus };
    const p = s.progress;
    const tokens = tokensOf(s.spend);
    const parts = [s.status, s.level ?? "", p ? `${p.done}/${p.total}` : "", tokens ? formatTokens(tokens) : "", s.activeMs ? formatDuration(s.activeMs) : ""];
    const tip = [
      s.goal,
      "",
      `Status: ${s.status}${s.reason ? ` (${s.reason})` : ""}`,
      s.level ? `Level: ${s.level}${m?.details?.triageReason ? ` (${m.details.triageReason})` : ""}` : "",
      p ? `Plan: ${p.done}/${p.total} done, ${p.running} running, ${p.failed} failed` : "",
      s.spend ? `Spend: ${formatTokens(tokensOf(s.spend) ?? 0)}${formatCost(s.spend.cost) ? `, ${formatCost(s.spend.cost)}` : ""}` : "",
      s.activeMs !== undefined ? `Active: ${formatDuration(s.activeMs)}` : "",
      s.continuations !== undefined ? `Continuations: ${s.continuations}, verification rounds: ${s.verificationRounds ?? 0}` : "",
      `Mission: ${missionId}${s.sessionId ? `, session ${s.sessionId}` : ""}`,
    ];
    return {
      label: s.goal ? firstLine(s.goal, 120) : missionId,
      description: parts.filter(Boolean).join(" · "),
      tooltip: tip.filter((l, i) => l !== "" || i === 1).join("\n"),
      ...icon(statusIcon("mission", s.status)),
      collapsible: true,
      contextValue: `mission.${s.status}`,
    };
  }

  private itemView(missionId: string, itemId: string): NodeView {
    const item = this.planItem(missionId, itemId);
    if (!item) return { label: itemId, description: "", tooltip: itemId, icon: "question", collapsible: false, contextValue: "item" };
    const items = this.missions.get(missionId)?.details?.plan?.items ?? [];
    const kids = items.filter((i) => i.parent === itemId);
    const task = item.taskId ? this.tasks.get(item.taskId)?.summary : undefined;
    const duration = task ? this.taskDuration(task) : undefined;
    const tokens = item.taskId ? this.taskTokens(item.taskId, missionId) : undefined;
    const parts =
      kids.length > 0
        ? [item.status, `${kids.filter((k) => k.status === "done" || k.status === "skipped").length}/${kids.length} done`]
        : [item.agent ?? "", item.status, duration !== undefined ? formatDuration(duration) : "", tokens ? formatTokens(tokens) : ""];
    const activity = item.taskId ? this.tasks.get(item.taskId)?.activity : undefined;
    const tip = [
      `${item.id}: ${item.title}`,
      `Status: ${item.status}${item.attempts ? ` (attempts: ${item.attempts})` : ""}`,
      item.agent ? `Agent: ${item.agent}` : "",
      item.dependsOn?.length ? `Depends on: ${item.dependsOn.join(", ")}` : "",
      item.taskId ? `Task: ${item.taskId}` : "",
      activity ? `Now: ${activity}` : "",
      task?.error ? `Error: ${task.error}` : "",
      item.result ? `\n${item.result.slice(0, 500)}` : "",
    ];
    return {
      label: item.title || item.id,
      description: parts.filter(Boolean).join(" · "),
      tooltip: tip.filter(Boolean).join("\n"),
      ...icon(statusIcon("item", item.status)),
      collapsible: kids.length > 0,
      contextValue: item.taskId ? "item.task" : "item",
      ...(item.taskId ? { taskId: item.taskId } : {}),
    };
  }

  private taskView(taskId: string): NodeView {
    const entry = this.tasks.get(taskId);
    if (!entry) return { label: taskId, description: "", tooltip: taskId, icon: "question", collapsible: false, contextValue: "task", taskId };
    const t = entry.summary;
    const duration = this.taskDuration(t);
    const missionId = this.missionOf(t);
    const tokens = this.taskTokens(taskId, missionId);
    const parts = [t.agent, t.status, duration !== undefined ? formatDuration(duration) : "", tokens ? formatTokens(tokens) : ""];
    const tip = [
      t.description,
      `Status: ${t.status}`,
      `Agent: ${t.agent}`,
      `Task: ${taskId}${t.sessionId ? `, session ${t.sessionId}` : ""}`,
      missionId ? `Mission: ${missionId}` : "",
      entry.activity ? `Now: ${entry.activity}` : "",
      t.error ? `Error: ${t.error}` : "",
    ];
    return {
      label: firstLine(t.description, 120) || taskId,
      description: parts.filter(Boolean).join(" · "),
      tooltip: tip.filter(Boolean).join("\n"),
      ...icon(statusIcon("task", t.status)),
      collapsible: false,
      contextValue: "task",
      taskId,
    };
  }

  private prune(): void {
    if (this.tasks.size + this.missions.size < this.pruneAt) return;
    this.pruneMissions();
    const other = this.otherTasks().filter((t) => isTerminalTask(t.status));
    for (const t of other.slice(MAX_OTHER_TASKS)) this.forgetTask(t.taskId);
    this.pruneAt = this.tasks.size + this.missions.size + 50;
  }

  private pruneMissions(): void {
    if (this.missions.size > MAX_MISSIONS) {
      const ended = [...this.missions.values()].map((m) => m.summary).filter((s) => s.status !== "active" && s.status !== "paused").sort(byNewest);
      for (const s of ended.slice(Math.max(0, MAX_MISSIONS - (this.missions.size - ended.length)))) {
        const m = this.missions.get(s.missionId);
        if (m?.timer) clearTimeout(m.timer);
        this.missions.delete(s.missionId);
        this.nodes.delete(`mission:${s.missionId}`);
        for (const id of this.nodes.keys()) if (id.startsWith(`item:${s.missionId}:`)) this.nodes.delete(id);
        for (const [id, t] of this.tasks) if (this.missionOf(t.summary) === s.missionId) this.forgetTask(id);
      }
    }
  }

  private forgetTask(taskId: string): void {
    this.tasks.delete(taskId);
    this.nodes.delete(`task:${taskId}`);
  }
}

function icon(name: string): { icon: string; iconColor?: string } {
  const color = ICON_COLORS[name];
  return color ? { icon: name, iconColor: color } : { icon: name };
}

function summaryOf(full: MissionFull): MissionSummary {
  const { plan: _p, taskIds: _t, taskSpend: _s, rounds: _r, triageReason: _tr, ...rest } = full;
  const summary: MissionSummary = { ...rest };
  for (const k of Object.keys(summary) as Array<keyof MissionSummary>) if (summary[k] === undefined) delete summary[k];
  return summary;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function byNewest(a: MissionSummary, b: MissionSummary): number {
  return (b.createdAt ?? 0) - (a.createdAt ?? 0) || b.missionId.localeCompare(a.missionId);
}

function byCreated(a: TaskSummary, b: TaskSummary): number {
  return (a.createdAt ?? 0) - (b.createdAt ?? 0) || a.taskId.localeCompare(b.taskId);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
