// The server for the workspace folder, through vscode-languageclient: started with the settings,
// restarted when they change, its events fed to the model and the status bar.
//
// vscode-languageclient declares `window.workDoneProgress` in `initialize` and answers the
// server's `window/workDoneProgress/create` itself, so each mission's `$/progress` shows as VS
// Code progress without code here.

import * as vscode from "vscode";
import { CloseAction, LanguageClient, State, type ErrorHandler, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";

import { findBinary } from "./binary";
import { MissionTreeModel } from "./model";
import { Methods, missionOfReply, Notifications, taskOfReply } from "./protocol";
import { ServerProcesses } from "./serverProcesses";
import { DEFAULT_SETTINGS, initializationOptions, parseSettings, RESTART_KEYS, SECTION, serverArgs, type Settings } from "./settings";
import { EventSync } from "./sync";

export const CLIENT_ID = "opencodeOrchestrator";
export const CLIENT_NAME = "OpenCode Orchestrator";

export type ServerState = "no-folder" | "starting" | "running" | "failed" | "stopped";

export class Controller implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  readonly model: MissionTreeModel;
  readonly statusBar: vscode.StatusBarItem;
  private client: LanguageClient | undefined;
  private sync: EventSync | undefined;
  private stateValue: ServerState = "stopped";
  private problem: string | undefined;
  /** The user was told the server failed, since it last ran (its restarts fail one by one). */
  private failureTold = false;
  private starting: Promise<void> | undefined;
  private generation = 0;
  /** The workspace folder the current server was started for. */
  private startedFor: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly processes: ServerProcesses;

  constructor() {
    this.output = vscode.window.createOutputChannel(CLIENT_NAME, { log: true });
    this.processes = new ServerProcesses(this.output);
    this.model = new MissionTreeModel({
      fetchMission: async (missionId) => missionOfReply(await this.request<unknown>(Methods.missionGet, { missionId, journalLimit: 1 }), `mission/get ${missionId}`),
      fetchTask: async (taskId) => taskOfReply(await this.request<unknown>(Methods.taskGet, { taskId }), `task/get ${taskId}`),
      onError: (m) => this.output.warn(m),
    });
    this.statusBar = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
    this.statusBar.name = CLIENT_NAME;
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (RESTART_KEYS.some((k) => e.affectsConfiguration(k))) {
          this.output.info("settings changed: restarting the server");
          void this.restart();
        }
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        if (this.workspaceRoot() !== this.startedFor) void this.restart();
      }),
    );
    this.render();
  }

  get state(): ServerState {
    return this.stateValue;
  }

  /** Why the server is not running, when it is not. */
  get lastError(): string | undefined {
    return this.problem;
  }

  /** The running client (tests and commands). */
  get languageClient(): LanguageClient | undefined {
    return this.client;
  }

  /** The server processes started and not exited (one, while it runs). */
  get serverPids(): number[] {
    return this.processes.pids;
  }

  get eventSync(): EventSync | undefined {
    return this.sync;
  }

  /** Resolves when the current start (and its first resynchronisation) is over, however it went. */
  ready(): Promise<void> {
    return this.starting ?? Promise.resolve();
  }

  workspaceRoot(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  readSettings(): { ok: true; settings: Settings } | { ok: false; message: string } {
    const c = vscode.workspace.getConfiguration(SECTION);
    return parseSettings((key) => c.get(key, DEFAULT_SETTINGS[key]));
  }

  start(): Promise<void> {
    if (!this.starting) this.starting = this.doStart();
    return this.starting;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const starting = this.starting;
    this.generation++;
    // A start that hangs (a server that never answers `initialize`) must not keep it running.
    if (starting) await Promise.race([starting.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    this.starting = undefined;
    const client = this.client;
    const sync = this.sync;
    this.client = undefined;
    this.sync = undefined;
    sync?.dispose();
    if (client) {
      try {
        await client.dispose(2000);
      } catch (e) {
        this.output.warn(`stopping the server: ${message(e)}`);
      }
    }
    // What shutdown and exit did not end, and what a restart under way spawned meanwhile.
    await this.processes.stopAll(2000);
    if (this.stateValue !== "no-folder") this.setState("stopped");
  }

  /** A request to the server; fails with a message saying why when it is not running. */
  async request<T>(method: string, params: unknown): Promise<T> {
    await this.ready();
    const client = this.client;
    if (!client || this.stateValue !== "running") {
      throw new Error(this.problem ? `The orchestrator server is not running: ${this.problem}` : "The orchestrator server is not running.");
    }
    return client.sendRequest<T>(method, params);
  }

  /** Runs a resynchronisation now (the Refresh command). */
  async refresh(): Promise<void> {
    await this.ready();
    await this.sync?.resync();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.model.dispose();
    this.statusBar.dispose();
    void this.stop().finally(() => this.output.dispose());
  }

  private async doStart(): Promise<void> {
    const generation = this.generation;
    this.failureTold = false;
    const root = this.workspaceRoot();
    this.startedFor = root;
    if (!root) {
      this.problem = "open a folder first: the orchestrator works on a workspace folder";
      this.setState("no-folder");
      return;
    }
    const parsed = this.readSettings();
    if (!parsed.ok) return this.fail(parsed.message);
    const settings = parsed.settings;
    const bin = findBinary(settings.serverPath, process.env, root);
    if (!bin.ok) return this.fail(bin.message);

    this.setState("starting");
    const args = serverArgs(settings);
    this.output.info(`starting ${bin.path} ${args.join(" ")} (workspace ${root}${settings.opencodeUrl ? `, OpenCode at ${settings.opencodeUrl}` : ", no OpenCode URL"})`);
    // Spawned here, on stdio with no `--stdio` argument (which `serve` would refuse), and never
    // for a client stopped since: vscode-languageclient may be restarting a dead server when
    // the client is replaced.
    const serverOptions: ServerOptions = () =>
      generation === this.generation ? this.processes.spawn({ command: bin.path, args, cwd: root }) : Promise.reject(new Error("the server was stopped"));
    // vscode-languageclient's own policy (a few restarts, then stop), but no restart once the
    // client is not the current one.
    const errorHandler: ErrorHandler = {
      error: (error, msg, count) => restarts.error(error, msg, count),
      closed: () => (generation === this.generation ? restarts.closed() : { action: CloseAction.DoNotRestart, handled: true }),
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.output,
      initializationOptions: () => initializationOptions(settings, root),
      errorHandler,
    };
    const client = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
    const restarts = client.createDefaultErrorHandler();
    const sync = new EventSync({ request: (method, params) => client.sendRequest(method, params) }, this.model, {
      onChange: () => this.render(),
      onError: (m) => this.output.warn(m),
    });
    client.onNotification(Notifications.event, (params: unknown) => sync.live(params));
    client.onNotification(Notifications.eventsDropped, (params: unknown) => {
      this.output.warn(`the server dropped events for this client: ${JSON.stringify(params)}; reading them again`);
      void sync.resync();
    });
    let synced = false;
    client.onDidChangeState((e) => {
      if (generation !== this.generation) return;
      if (e.newState === State.Running) {
        this.problem = undefined;
        this.failureTold = false;
        this.setState("running");
        // After the server restarted on its own (vscode-languageclient does that when it dies).
        if (synced) void sync.resync();
      } else if (e.newState === State.StartFailed) {
        this.serverFailed("it could not start (see the log)");
      } else if (e.newState === State.Stopped) {
        // vscode-languageclient passes through Stopped on its way to restarting a server that
        // died (Starting follows at once): only a client that stays stopped has failed. A
        // deliberate stop changed `generation` first.
        queueMicrotask(() => {
          if (generation === this.generation && client.state === State.Stopped) this.serverFailed("it stopped (see the log)");
        });
      } else if (e.newState === State.Starting && this.stateValue !== "starting") {
        this.setState("starting");
      }
    });
    this.client = client;
    this.sync = sync;
    try {
      await client.start();
    } catch (e) {
      // vscode-languageclient has shown the error (the server's message for a failed
      // `initialize`) as a notification already, and StartFailed ours; this keeps the reason.
      if (generation === this.generation) this.serverFailed(`it could not start: ${message(e)}`);
      return;
    }
    if (generation !== this.generation) return;
    this.problem = undefined;
    this.setState("running");
    await sync.resync();
    synced = true;
  }

  /** The settings do not let the server start: said with a button to them. */
  private fail(problem: string): void {
    this.problem = problem;
    this.output.error(problem);
    this.setState("failed");
    void vscode.window.showErrorMessage(`OpenCode Orchestrator: ${problem}`, "Show Log", "Open Settings").then((choice) => {
      if (choice === "Show Log") this.output.show(true);
      else if (choice === "Open Settings") void vscode.commands.executeCommand("workbench.action.openSettings", SECTION);
    });
  }

  /**
   * The server stopped or could not start without being asked to: the status bar says so, and
   * an error message (once until it runs again) offers to start it again.
   */
  private serverFailed(problem: string): void {
    this.problem = problem;
    this.output.error(`the server is not running: ${problem}`);
    this.setState("failed");
    if (this.failureTold) return;
    this.failureTold = true;
    void vscode.window.showErrorMessage(`OpenCode Orchestrator: the server is not running: ${problem}`, "Restart Server", "Show Log").then((choice) => {
      if (choice === "Restart Server") void this.restart();
      else if (choice === "Show Log") this.output.show(true);
    });
  }

  private setState(state: ServerState): void {
    this.stateValue = state;
    this.render();
  }

  private render(): void {
    const item = this.statusBar;
    switch (this.stateValue) {
      case "no-folder":
        item.hide();
        return;
      case "running": {
        const counter = this.sync?.counter;
        const running = counter?.running ?? 0;
        const queued = counter?.queued ?? 0;
        item.text = `$(rocket) ${running} running · ${queued} queued`;
        item.tooltip = `OpenCode Orchestrator: ${running} task${running === 1 ? "" : "s"} running, ${queued} queued. Click to show the missions.`;
        item.command = "opencodeOrchestrator.missions.focus";
        item.backgroundColor = undefined;
        break;
      }
      case "starting":
        item.text = "$(rocket) starting…";
        item.tooltip = "OpenCode Orchestrator: starting the server";
        item.command = "opencodeOrchestrator.showLog";
        item.backgroundColor = undefined;
        break;
      case "failed":
      case "stopped":
        item.text = "$(rocket) not running";
        item.tooltip = `OpenCode Orchestrator: ${this.problem ?? "the server is not running"}. Click to show the log.`;
        item.command = "opencodeOrchestrator.showLog";
        item.backgroundColor = this.stateValue === "failed" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
        break;
    }
    item.show();
  }
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
