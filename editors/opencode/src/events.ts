// Events in both directions: the orchestrator's `orchestrator/event` notifications, put in `seq`
// order, and OpenCode's bus events, filtered down to what the server reads before they are
// forwarded as `orchestrator/opencode/event`.

/** One `orchestrator/event` (docs/PROTOCOL.md). */
export interface OrchestratorEvent {
  seq: number;
  time?: number;
  type: string;
  data?: Record<string, unknown>;
}

export function isOrchestratorEvent(v: unknown): v is OrchestratorEvent {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.seq === "number" && Number.isSafeInteger(e.seq) && typeof e.type === "string";
}

/** The `seq`s an orderer gave up waiting for, `first` to `last` inclusive. */
export type GapHandler = (first: number, last: number) => void;

/**
 * Delivers events in `seq` order. The server's handlers finish out of order, so an event may
 * arrive before one with a smaller `seq`: an event that does not follow the last one delivered
 * is held until the gap closes or `gapWaitMs` passes; then everything held goes out in order.
 * An event whose `seq` was already delivered (or is older) is dropped, so a missing event that
 * comes after its gap was given up would be lost: `onGap` hears of every gap delivery goes
 * past, before the event after it goes out, for the owner to fetch the missing range again.
 */
export class SeqOrderer<E extends OrchestratorEvent = OrchestratorEvent> {
  private last: number | undefined;
  private readonly held = new Map<number, E>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deliver: (event: E) => void,
    private readonly gapWaitMs = 200,
    private readonly onGap?: GapHandler,
    private readonly maxHeld = 10_000,
  ) {}

  /** The `seq` of the last event delivered. */
  get lastSeq(): number | undefined {
    return this.last;
  }

  /** Events waiting for a gap to close. */
  get heldCount(): number {
    return this.held.size;
  }

  push(event: E): void {
    if (this.last !== undefined && event.seq <= this.last) return;
    if (this.held.has(event.seq)) return;
    this.held.set(event.seq, event);
    this.drain();
    if (this.held.size === 0) {
      this.clearTimer();
    } else if (this.held.size >= this.maxHeld) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.gapWaitMs);
      this.timer.unref?.();
    }
  }

  /**
   * Says that everything up to `lastSeq` is accounted for (a replay delivered it): held events
   * up to it are dropped, and those right after it go out.
   */
  reset(lastSeq: number): void {
    if (this.last === undefined || lastSeq > this.last) this.last = lastSeq;
    for (const seq of [...this.held.keys()]) if (seq <= this.last) this.held.delete(seq);
    this.drain();
    if (this.held.size === 0) this.clearTimer();
  }

  /** Delivers everything held, in order, giving up on the gaps (each told to `onGap`). */
  flush(): void {
    this.clearTimer();
    const seqs = [...this.held.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const e = this.held.get(seq);
      this.held.delete(seq);
      if (!e) continue;
      // Before the first delivery there is no baseline, so no known gap.
      if (this.last !== undefined && seq > this.last + 1) {
        try {
          this.onGap?.(this.last + 1, seq - 1);
        } catch {
          // the owner's failure must not stop the stream
        }
      }
      this.emit(e);
    }
  }

  dispose(): void {
    this.clearTimer();
    this.held.clear();
  }

  private drain(): void {
    if (this.last === undefined) return; // wait for the timer: an earlier event may still come
    for (;;) {
      const next = this.held.get(this.last + 1);
      if (!next) return;
      this.held.delete(next.seq);
      this.emit(next);
    }
  }

  private emit(e: E): void {
    this.last = e.seq;
    try {
      this.deliver(e);
    } catch {
      // a consumer's failure must not stop the stream
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** OpenCode bus event types the server reads (src/orchestrator/backend/opencode/events.rs). */
export const FORWARDED_EVENT_TYPES: ReadonlySet<string> = new Set([
  "session.idle",
  "session.status",
  "session.error",
  "session.deleted",
  "message.part.updated",
  "message.updated",
]);

type BusEvent = { type?: unknown; properties?: unknown };

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * What to send the server for one OpenCode bus event, or undefined to send nothing.
 * `isTaskSession` says whether a session is one the orchestrator works with (it created,
 * prompted or looked at it through the bridge): message events of other sessions (the user's
 * own chat) are not sent. The server builds a task's answer from its sessions' message and
 * part events, and reads tool parts for progress; tool parts go without their output, which can
 * be large and which the server does not read. Session events are small and always sent.
 */
export function eventToForward(event: unknown, isTaskSession: (id: string) => boolean): unknown {
  const e = event as BusEvent | undefined;
  if (!e || typeof e.type !== "string" || !FORWARDED_EVENT_TYPES.has(e.type)) return undefined;
  const props = record(e.properties);
  if (e.type === "message.part.updated") {
    const part = record(props?.part);
    if (!part || typeof part.sessionID !== "string" || !isTaskSession(part.sessionID)) return undefined;
    const state = record(part.state);
    if (part.type !== "tool" || !state) return event;
    const slim: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(state)) {
      if (k !== "output" && k !== "metadata" && k !== "attachments") slim[k] = v;
    }
    return { ...e, properties: { ...props, part: { ...part, state: slim } } };
  }
  if (e.type === "message.updated") {
    const info = record(props?.info);
    if (typeof info?.sessionID !== "string" || !isTaskSession(info.sessionID)) return undefined;
  }
  return event;
}

/** A set that forgets its oldest entries beyond `max`. */
export class BoundedSet {
  private readonly items = new Set<string>();

  constructor(private readonly max: number) {}

  add(item: string): void {
    if (this.items.has(item)) return;
    this.items.add(item);
    if (this.items.size > this.max) {
      const oldest = this.items.values().next();
      if (!oldest.done) this.items.delete(oldest.value);
    }
  }

  has(item: string): boolean {
    return this.items.has(item);
  }

  delete(item: string): void {
    this.items.delete(item);
  }

  get size(): number {
    return this.items.size;
  }
}
