// Keeps the model and the task counter in step with the server: live events in `seq` order, and
// a resynchronisation on start, after the server restarted, after `orchestrator/eventsDropped`,
// and when an event never came (the orderer gave up on a gap):
//
// 1. `orchestrator/stats` gives the last `seq` the server had (L);
// 2. `mission/list`, `task/list` (recent) and `task/list` (queued and running) are the snapshot;
// 3. `orchestrator/events/replay` from L brings every event since, applied over the snapshot
//    (applying an event twice is harmless: tasks only move forward, missions are re-read);
// 4. live events that came meanwhile were held; those after the replay go out, then live
//    delivery resumes.
//
// A resynchronisation that fails is tried again, 1 s later, then 2, 4, ... up to 30 s apart.

import { TaskCounter } from "./counter";
import { SeqOrderer } from "./events";
import type { MissionTreeModel } from "./model";
import { ACTIVE_TASK_STATUSES, isOrchestratorEvent, Methods, missionsOfReply, replayOfReply, statsOfReply, tasksOfReply, type OrchestratorEvent } from "./protocol";

export interface Rpc {
  request<T>(method: string, params: unknown): Promise<T>;
}

export interface SyncOptions {
  /** Called after every applied event or snapshot (the status bar reads `counter`). */
  onChange?(): void;
  onError?(message: string): void;
  /** Missions read at a resync (default 50). */
  missionLimit?: number;
  /** Recent tasks read at a resync (default 200). */
  taskLimit?: number;
  gapWaitMs?: number;
  /** The first retry of a failed resync waits this long (ms, default 1000), each next twice as long... */
  retryMs?: number;
  /** ...up to this (ms, default 30000). */
  retryMaxMs?: number;
}

const REPLAY_PAGE = 1000;

export class EventSync {
  readonly counter = new TaskCounter();
  private readonly orderer: SeqOrderer;
  private syncing = false;
  private held: OrchestratorEvent[] = [];
  private running: Promise<void> | undefined;
  private again = false;
  private lastApplied = 0;
  private disposed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;

  constructor(
    private readonly rpc: Rpc,
    private readonly model: MissionTreeModel,
    private readonly options: SyncOptions = {},
  ) {
    // A missing event is gone for the orderer once it delivered past it: a resync reads the
    // state it changed.
    this.orderer = new SeqOrderer((e) => this.delivered(e), options.gapWaitMs ?? 200, () => void this.resync());
    this.retryDelay = options.retryMs ?? 1000;
  }

  /** The `seq` of the last event applied. */
  get lastSeq(): number {
    return this.lastApplied;
  }

  /** Whether a resynchronisation is under way. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** An `orchestrator/event` notification's params. */
  live(params: unknown): void {
    if (this.disposed || !isOrchestratorEvent(params)) return;
    this.orderer.push(params);
  }

  /** Resynchronises; calls made while one runs are folded into one more run after it. */
  resync(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<void> => {
      let failure: string | undefined;
      try {
        do {
          this.again = false;
          failure = await this.once();
        } while (this.again && !this.disposed);
      } finally {
        this.running = undefined;
      }
      if (failure === undefined) this.retried();
      else this.retryLater(failure);
    };
    this.running = run();
    return this.running;
  }

  dispose(): void {
    this.disposed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.orderer.dispose();
    this.held = [];
  }

  private retryLater(failure: string): void {
    if (this.disposed) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.options.retryMaxMs ?? 30_000);
    this.options.onError?.(`resynchronising with the orchestrator failed: ${failure}; trying again in ${delay / 1000} s`);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.resync();
    }, delay);
    this.retryTimer.unref?.();
  }

  private retried(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryDelay = this.options.retryMs ?? 1000;
  }

  private delivered(e: OrchestratorEvent): void {
    if (this.syncing) this.held.push(e);
    else this.apply(e);
  }

  private apply(e: OrchestratorEvent): void {
    if (this.disposed) return;
    this.lastApplied = Math.max(this.lastApplied, e.seq);
    this.applyToModel(e);
  }

  private applyToModel(e: OrchestratorEvent): void {
    this.model.applyEvent(e);
    if (this.counter.apply(e)) this.options.onChange?.();
  }

  /** One resynchronisation; what went wrong, if it failed. */
  private async once(): Promise<string | undefined> {
    this.syncing = true;
    this.held = [];
    try {
      const stats = statsOfReply(await this.rpc.request<unknown>(Methods.stats, {}), "stats");
      const [missions, recent, open] = await Promise.all([
        this.rpc.request<unknown>(Methods.missionList, { limit: this.options.missionLimit ?? 50 }).then((r) => missionsOfReply(r, "mission/list")),
        this.rpc.request<unknown>(Methods.taskList, { limit: this.options.taskLimit ?? 200 }).then((r) => tasksOfReply(r, "task/list")),
        this.rpc.request<unknown>(Methods.taskList, { status: ACTIVE_TASK_STATUSES, limit: 1000 }).then((r) => tasksOfReply(r, "task/list")),
      ]);
      if (this.disposed) return undefined;
      this.model.upsertMissions(missions);
      this.model.upsertTasks([...recent, ...open]);
      this.counter.reset(open);
      this.model.reconcile(new Set(open.map((t) => t.taskId)));
      this.options.onChange?.();
      let after = stats.lastSeq;
      for (;;) {
        const page = replayOfReply(await this.rpc.request<unknown>(Methods.eventsReplay, { afterSeq: after, limit: REPLAY_PAGE }), "events/replay");
        if (this.disposed) return undefined;
        for (const e of page.events) if (isOrchestratorEvent(e) && e.seq > after) this.applyToModel(e);
        const last = page.events.at(-1)?.seq;
        if (!page.more || last === undefined || last <= after) break;
        after = last;
      }
      // Only now is everything up to `after` applied: after a failed replay the retry reads it.
      this.lastApplied = after;
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    } finally {
      this.syncing = false;
      const held = this.held.sort((a, b) => a.seq - b.seq);
      this.held = [];
      for (const e of held) if (e.seq > this.lastApplied) this.apply(e);
      this.orderer.reset(this.lastApplied);
    }
  }
}
