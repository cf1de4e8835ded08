// The status bar's figures: how many tasks run and wait on the server, from `task.*` events,
// reset from a snapshot (`orchestrator/stats` and `task/list`) on start and after lost events.

import type { OrchestratorEvent } from "./protocol";

export class TaskCounter {
  private readonly open = new Map<string, "queued" | "running">();

  get running(): number {
    let n = 0;
    for (const s of this.open.values()) if (s === "running") n++;
    return n;
  }

  get queued(): number {
    let n = 0;
    for (const s of this.open.values()) if (s === "queued") n++;
    return n;
  }

  /** The open tasks of a snapshot replace what the counter had. */
  reset(openTasks: Array<{ taskId: string; status: string }>): void {
    this.open.clear();
    for (const t of openTasks) {
      if (t.status === "queued" || t.status === "running") this.open.set(t.taskId, t.status);
    }
  }

  /** Applies one event (in `seq` order); true when the figures may have changed. */
  apply(event: OrchestratorEvent): boolean {
    if (!event.type.startsWith("task.")) return false;
    const taskId = event.data?.taskId;
    if (typeof taskId !== "string") return false;
    switch (event.type) {
      case "task.queued":
        if (!this.open.has(taskId)) this.open.set(taskId, "queued");
        return true;
      case "task.started":
      case "task.reattached":
        this.open.set(taskId, "running");
        return true;
      case "task.completed":
      case "task.failed":
      case "task.cancelled":
      case "task.timed_out":
      case "task.interrupted":
        return this.open.delete(taskId);
      default:
        return false;
    }
  }

  /** `$(rocket) 2 running · 3 queued`. */
  text(): string {
    return `$(rocket) ${this.running} running · ${this.queued} queued`;
  }
}
