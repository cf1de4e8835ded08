// TUI toasts for task and mission state changes: at most one per task (or mission event) and
// state, failures ignored (there is no TUI under `opencode run`).

import type { OrchestratorEvent } from "./events.js";

export type ToastVariant = "info" | "success" | "warning" | "error";

/** What the toaster needs of the SDK client (`client.tui.showToast`). */
export interface ToastClient {
  tui?: {
    showToast?: (options: {
      body: { title?: string; message: string; variant: ToastVariant; duration?: number };
    }) => unknown;
  };
}

const TOASTED: Record<string, { verb: string; variant: ToastVariant }> = {
  "task.started": { verb: "started", variant: "info" },
  "task.completed": { verb: "finished", variant: "success" },
  "task.failed": { verb: "failed", variant: "error" },
  "task.cancelled": { verb: "was cancelled", variant: "warning" },
  "task.timed_out": { verb: "timed out", variant: "warning" },
};

/** Mission events that get a toast, and how they read. */
const MISSION_TOASTS: Record<string, { title: string; variant: ToastVariant }> = {
  "mission.started": { title: "Mission started", variant: "info" },
  "mission.completed": { title: "Mission complete", variant: "success" },
  "mission.stopped": { title: "Mission stopped", variant: "warning" },
  "mission.paused": { title: "Mission paused", variant: "info" },
  "mission.cancelled": { title: "Mission cancelled", variant: "warning" },
};

export const TOAST_TITLE = "Orchestrator";

function clip(s: string, max: number): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

export class Toaster {
  private readonly shown = new Set<string>();

  constructor(
    private readonly client: ToastClient | undefined,
    private readonly displayNames: ReadonlyMap<string, string>,
    private readonly enabled = true,
    private readonly maxRemembered = 5_000,
  ) {}

  /** Shows a toast unless disabled; never throws, never waits. */
  show(message: string, variant: ToastVariant): void {
    if (!this.enabled) return;
    const showToast = this.client?.tui?.showToast;
    if (typeof showToast !== "function") return;
    try {
      const p = showToast.call(this.client?.tui, { body: { title: TOAST_TITLE, message, variant } });
      if (p && typeof (p as Promise<unknown>).catch === "function") (p as Promise<unknown>).catch(() => undefined);
    } catch {
      // no TUI
    }
  }

  /** The toast text for an event, or undefined when it gets none. */
  describe(event: OrchestratorEvent): { message: string; variant: ToastVariant } | undefined {
    const mission = MISSION_TOASTS[event.type];
    if (mission) {
      const data = event.data ?? {};
      const detail =
        typeof data.goal === "string" ? data.goal : typeof data.reason === "string" ? data.reason : undefined;
      return { message: detail ? `${mission.title}: ${clip(detail, 160)}` : mission.title, variant: mission.variant };
    }
    const kind = TOASTED[event.type];
    if (!kind) return undefined;
    const data = event.data ?? {};
    const agent = typeof data.agent === "string" ? data.agent : "a task";
    const who = this.displayNames.get(agent) ?? agent;
    const what = typeof data.description === "string" ? `: ${clip(data.description, 80)}` : "";
    let message = `${who} ${kind.verb}${what}`;
    if (event.type === "task.failed" && typeof data.error === "string") message += ` (${clip(data.error, 120)})`;
    return { message, variant: kind.variant };
  }

  onEvent(event: OrchestratorEvent): void {
    const toast = this.describe(event);
    if (!toast) return;
    // A task's state toasts once; a mission's events (a mission may pause twice) once per event.
    const taskId = typeof event.data?.taskId === "string" ? event.data.taskId : undefined;
    const key = taskId && event.type.startsWith("task.") ? `${taskId}:${event.type}` : `seq${event.seq}`;
    if (this.shown.has(key)) return;
    this.shown.add(key);
    if (this.shown.size > this.maxRemembered) {
      const oldest = this.shown.values().next();
      if (!oldest.done) this.shown.delete(oldest.value);
    }
    this.show(toast.message, toast.variant);
  }
}
