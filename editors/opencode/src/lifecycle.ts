// Stopping every server this process started when OpenCode exits: on `beforeExit`, SIGINT and
// SIGTERM a graceful stop (`shutdown`, `exit`, SIGKILL after 2 s); on `exit` (synchronous) the
// `shutdown` and `exit` messages only. A server whose stdin closes exits by itself too, so even a
// hard kill of OpenCode leaves no server behind.

export interface Stoppable {
  stop(graceMs?: number): Promise<void>;
  stopNow(): void;
}

const live = new Set<Stoppable>();
let installed = false;
let stoppingAll: Promise<void> | undefined;

export const STOP_GRACE_MS = 2000;

function stopAll(): Promise<void> {
  if (!stoppingAll) {
    stoppingAll = Promise.allSettled([...live].map((s) => s.stop(STOP_GRACE_MS))).then(() => undefined);
  }
  return stoppingAll;
}

function onSignal(signal: NodeJS.Signals): void {
  const handler = handlers.get(signal);
  // If nobody else listens, our listener has replaced the default action (exit): do it
  // ourselves once the servers are stopped.
  const others = process.listeners(signal).filter((l) => l !== handler).length;
  void stopAll().then(() => {
    if (others === 0 && handler) {
      process.removeListener(signal, handler);
      process.kill(process.pid, signal);
    }
  });
}

const handlers = new Map<NodeJS.Signals, () => void>();

function install(): void {
  if (installed) return;
  installed = true;
  // Each registration on its own: a runtime without signals (a worker) still gets the others.
  const on = (event: string, listener: () => void): boolean => {
    try {
      process.on(event, listener);
      return true;
    } catch {
      return false;
    }
  };
  on("exit", () => {
    for (const s of live) s.stopNow();
  });
  on("beforeExit", () => {
    if (live.size > 0 && !stoppingAll) void stopAll();
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const handler = (): void => onSignal(signal);
    if (on(signal, handler)) handlers.set(signal, handler);
  }
}

/** Stops `server` when the process ends. Returns the function that forgets it again. */
export function stopOnExit(server: Stoppable): () => void {
  install();
  live.add(server);
  return () => {
    live.delete(server);
  };
}
