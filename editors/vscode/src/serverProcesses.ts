// The server processes the controller starts, kept so that none outlives the client it was
// started for.
//
// vscode-languageclient restarts a server that dies on its own, a few times. A restart can be
// under way when the controller stops or replaces the client (the Restart Server button, a
// settings change): a process spawned then has no client left to stop it, and a standalone
// server would live as long as VS Code. Spawning here lets the controller refuse spawns for a
// client it has given up and end whatever such a client left running.

import { spawn, type ChildProcess } from "node:child_process";

export interface SpawnRequest {
  command: string;
  args: string[];
  cwd: string;
}

export class ServerProcesses {
  private readonly live = new Set<ChildProcess>();

  /** `log` hears how each process ended (the output channel). */
  constructor(private readonly log: { info(m: string): void; warn(m: string): void }) {}

  /** Starts the server; resolves once it runs, rejects with why it could not. */
  spawn({ command, args, cwd }: SpawnRequest): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { cwd, stdio: "pipe" });
      child.once("error", (e) => {
        this.live.delete(child);
        reject(new Error(`cannot start ${command}: ${e.message}`));
      });
      child.once("spawn", () => {
        this.live.add(child);
        resolve(child);
      });
      child.once("exit", (code, signal) => {
        this.live.delete(child);
        if (code === 0) this.log.info(`the server process ${child.pid} exited`);
        else this.log.warn(`the server process ${child.pid} exited ${signal ? `by ${signal}` : `with code ${code}`}`);
      });
    });
  }

  /** The ids of the started processes that have not exited. */
  get pids(): number[] {
    return [...this.live].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  /**
   * Ends every process still running: SIGTERM, then SIGKILL for any still there after
   * `graceMs`. Resolves when all have exited.
   */
  async stopAll(graceMs: number): Promise<void> {
    const left = [...this.live];
    if (left.length === 0) return;
    const exited = left.map((c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("exit", () => r()))));
    for (const c of left) c.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const c of left) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }, graceMs);
    await Promise.all(exited);
    clearTimeout(timer);
  }
}
