// The commands: Run Mission, Cancel Mission, Show Log, Open Task Result, Refresh, Restart Server.
// Every failure is shown as an error notification with the server's message.

import { execFile } from "node:child_process";

import * as vscode from "vscode";

import { findBinary } from "./binary";
import { message, type Controller } from "./controller";
import { firstLine } from "./format";
import type { ModelNode } from "./model";
import {
  cancelOfReply,
  Methods,
  missionSummaryOfReply,
  missionsOfReply,
  taskOfReply,
  tasksOfReply,
  type MissionSummary,
  type TaskRecord,
  type TaskSummary,
} from "./protocol";
import { taskDocument } from "./taskDocument";

export const COMMANDS = {
  runMission: "opencodeOrchestrator.runMission",
  cancelMission: "opencodeOrchestrator.cancelMission",
  showLog: "opencodeOrchestrator.showLog",
  openTaskResult: "opencodeOrchestrator.openTaskResult",
  refresh: "opencodeOrchestrator.refresh",
  restartServer: "opencodeOrchestrator.restartServer",
} as const;

export interface CommandContext {
  controller: Controller;
  /** Shows a mission in the Missions view. */
  reveal(node: ModelNode): Promise<void>;
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.runMission, () => runMission(ctx)),
    vscode.commands.registerCommand(COMMANDS.cancelMission, (node?: unknown) => cancelMission(ctx, node)),
    vscode.commands.registerCommand(COMMANDS.showLog, () => showLog(ctx)),
    vscode.commands.registerCommand(COMMANDS.openTaskResult, (node?: unknown) => openTaskResult(ctx, node)),
    vscode.commands.registerCommand(COMMANDS.refresh, () => refresh(ctx)),
    vscode.commands.registerCommand(COMMANDS.restartServer, () => restartServer(ctx)),
  ];
}

function showError(what: string, e: unknown, ctx: CommandContext): void {
  const text = `${what}: ${message(e)}`;
  const code = typeof e === "object" && e !== null && "code" in e && typeof e.code === "number" ? ` (${e.code})` : "";
  ctx.controller.output.error(`${what}${code}: ${message(e)}`);
  void vscode.window.showErrorMessage(text, "Show Log").then((choice) => {
    if (choice === "Show Log") ctx.controller.output.show(true);
  });
}

/** Asks for a goal and starts a mission in a new Commander session. Resolves to its summary. */
export async function runMission(ctx: CommandContext): Promise<MissionSummary | undefined> {
  const goal = await vscode.window.showInputBox({
    title: "Run Mission",
    prompt: "The mission's goal: the Commander triages it, the Architect plans it, the agents carry it out, the Inspector verifies it.",
    placeHolder: "Add dark mode to the app",
    ignoreFocusOut: true,
    validateInput: (v) => (v.length > 4000 ? "At most 4000 characters" : undefined),
  });
  if (goal === undefined || goal.trim() === "") return undefined;
  let mission: MissionSummary;
  try {
    mission = missionSummaryOfReply(await ctx.controller.request<unknown>(Methods.missionStart, { goal: goal.trim() }), "mission/start");
  } catch (e) {
    showError("Could not start the mission", e, ctx);
    return undefined;
  }
  const model = ctx.controller.model;
  model.upsertMissions([mission]);
  model.refreshMission(mission.missionId);
  try {
    await ctx.reveal(model.missionNode(mission.missionId));
  } catch (e) {
    ctx.controller.output.warn(`showing the mission in the tree: ${message(e)}`);
  }
  return mission;
}

interface MissionPick extends vscode.QuickPickItem {
  missionId: string;
}

/** Cancels the mission of a tree row, or one picked among the active and paused ones. */
export async function cancelMission(ctx: CommandContext, node?: unknown): Promise<boolean> {
  let missionId = isNode(node) && node.kind === "mission" ? node.missionId : undefined;
  let goal = missionId ? ctx.controller.model.mission(missionId)?.goal : undefined;
  if (!missionId) {
    let open: MissionSummary[];
    try {
      open = missionsOfReply(await ctx.controller.request<unknown>(Methods.missionList, { status: ["active", "paused"], limit: 100 }), "mission/list");
    } catch (e) {
      showError("Could not list the missions", e, ctx);
      return false;
    }
    if (open.length === 0) {
      void vscode.window.showInformationMessage("There is no active or paused mission to cancel.");
      return false;
    }
    const picked = await vscode.window.showQuickPick<MissionPick>(
      open.map((m) => ({
        label: firstLine(m.goal, 100),
        description: `${m.status}${m.progress ? ` · ${m.progress.done}/${m.progress.total}` : ""}`,
        detail: m.missionId,
        missionId: m.missionId,
      })),
      { title: "Cancel Mission", placeHolder: "The mission to cancel (its running tasks are cancelled too)" },
    );
    if (!picked) return false;
    missionId = picked.missionId;
    goal = open.find((m) => m.missionId === missionId)?.goal;
  }
  const confirm = await vscode.window.showWarningMessage(
    `Cancel the mission "${firstLine(goal ?? missionId, 100)}"? Its running tasks are cancelled; a cancelled mission cannot be resumed.`,
    { modal: true },
    "Cancel Mission",
  );
  if (confirm !== "Cancel Mission") return false;
  try {
    const r = cancelOfReply(await ctx.controller.request<unknown>(Methods.missionCancel, { missionId }), "mission/cancel");
    ctx.controller.model.upsertMissions([r.mission]);
    ctx.controller.model.refreshMission(r.mission.missionId);
    if (!r.cancelled) void vscode.window.showInformationMessage(`The mission had already ended (${r.mission.status}).`);
    return r.cancelled;
  } catch (e) {
    showError("Could not cancel the mission", e, ctx);
    return false;
  }
}

const logPathShown = new WeakSet<Controller>();

/** Shows the client's log, and once where the server's own log file is. */
export async function showLog(ctx: CommandContext): Promise<void> {
  const output = ctx.controller.output;
  output.show(true);
  if (logPathShown.has(ctx.controller)) return;
  logPathShown.add(ctx.controller);
  const bin = ctx.controller.readSettings();
  const found = bin.ok ? findBinary(bin.settings.serverPath, process.env, ctx.controller.workspaceRoot()) : undefined;
  if (!found?.ok) return;
  await new Promise<void>((resolve) => {
    execFile(found.path, ["log-path"], { timeout: 5000 }, (error, stdout) => {
      if (error) output.warn(`\`${found.path} log-path\` failed: ${error.message}`);
      else output.info(`the server's own log file: ${stdout.trim()}`);
      resolve();
    });
  });
}

interface TaskPick extends vscode.QuickPickItem {
  taskId: string;
}

/** Opens a task's result (or error) as an untitled markdown document. */
export async function openTaskResult(ctx: CommandContext, node?: unknown): Promise<vscode.TextDocument | undefined> {
  let taskId: string | undefined;
  if (isNode(node)) {
    const v = ctx.controller.model.view(node);
    taskId = v.taskId;
    if (!taskId) {
      void vscode.window.showInformationMessage(`"${v.label}" has no task yet.`);
      return undefined;
    }
  }
  if (!taskId) {
    let tasks: TaskSummary[];
    try {
      tasks = tasksOfReply(await ctx.controller.request<unknown>(Methods.taskList, { limit: 100 }), "task/list");
    } catch (e) {
      showError("Could not list the tasks", e, ctx);
      return undefined;
    }
    if (tasks.length === 0) {
      void vscode.window.showInformationMessage("There are no tasks yet.");
      return undefined;
    }
    const picked = await vscode.window.showQuickPick<TaskPick>(
      tasks.map((t) => ({
        label: firstLine(t.description, 100),
        description: `${t.agent} · ${t.status}`,
        detail: t.missionId ? `${t.taskId} (mission ${t.missionId})` : t.taskId,
        taskId: t.taskId,
      })),
      { title: "Open Task Result", placeHolder: "The task whose result to open", matchOnDetail: true },
    );
    if (!picked) return undefined;
    taskId = picked.taskId;
  }
  let task: TaskRecord;
  try {
    task = taskOfReply(await ctx.controller.request<unknown>(Methods.taskGet, { taskId }), `task/get ${taskId}`);
  } catch (e) {
    showError("Could not read the task", e, ctx);
    return undefined;
  }
  ctx.controller.model.upsertTasks([task]);
  const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: taskDocument(task) });
  await vscode.window.showTextDocument(doc, { preview: true });
  return doc;
}

async function refresh(ctx: CommandContext): Promise<void> {
  try {
    await ctx.controller.refresh();
  } catch (e) {
    showError("Could not refresh", e, ctx);
  }
}

/** Stops the server and starts it again (after it failed, or to pick up a new binary). */
async function restartServer(ctx: CommandContext): Promise<void> {
  ctx.controller.output.info("Restart Server: restarting the server");
  await ctx.controller.restart();
}

function isNode(v: unknown): v is ModelNode {
  return typeof v === "object" && v !== null && "kind" in v && "id" in v && typeof (v as { id: unknown }).id === "string";
}
