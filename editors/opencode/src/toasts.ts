// TUI toasts for task state changes: at most one per task and state, failures ignored (there is
// no TUI under `opencode run`).

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
    const taskId = typeof event.data?.taskId === "string" ? event.data.taskId : `seq${event.seq}`;
    const key = `${taskId}:${event.type}`;
    if (this.shown.has(key)) return;
    this.shown.add(key);
    if (this.shown.size > this.maxRemembered) {
      const oldest = this.shown.values().next();
      if (!oldest.done) this.shown.delete(oldest.value);
    }
    this.show(toast.message, toast.variant);
  }
}
