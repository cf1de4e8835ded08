// The server's `orchestrator/event` notifications put in `seq` order (the same orderer as the
// OpenCode plugin's).

import type { OrchestratorEvent } from "./protocol";

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
   * Says that everything up to `lastSeq` is accounted for (a snapshot and a replay covered it):
   * held events up to it are dropped, and those right after it go out.
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
