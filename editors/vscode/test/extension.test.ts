// The extension against the real server binary (its in-process scripted runtime), with only the
// `vscode` module faked (test/vscode-stub.ts).

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, afterEach, describe, test } from "node:test";

import type { MissionSummary, TaskRecord } from "../src/protocol";
import { activate, findNode, renderTree, SCRIPTED, serverBin, treeText, waitUntil, type Activated } from "./helpers";
import { commands, ProgressLocation, stub, type OpenedDocument } from "./vscode-stub";

const RUN = "opencodeOrchestrator.runMission";
const CANCEL = "opencodeOrchestrator.cancelMission";
const SHOW_LOG = "opencodeOrchestrator.showLog";
const OPEN_RESULT = "opencodeOrchestrator.openTaskResult";
const RESTART = "opencodeOrchestrator.restartServer";
const SLOW = { backend: "scripted", missions: { continueDelayMs: 60_000 } };

let current: Activated | undefined;

async function start(settings: Record<string, unknown>, options: Parameters<typeof activate>[1] = {}): Promise<Activated> {
  current = await activate(settings, options);
  return current;
}

afterEach(async () => {
  await current?.close();
  current = undefined;
  // Every server a test started ends with its client: none left behind by a restart under way.
  const left = await waitUntil(() => serverChildren().length === 0 || undefined, () => `server processes left running: ${serverChildren().join(", ")}`, 5_000).catch((e: Error) => e);
  if (left instanceof Error) {
    for (const pid of serverChildren()) process.kill(pid, "SIGKILL");
    throw left;
  }
});

interface Proc {
  pid: number;
  ppid: number;
  zombie: boolean;
  argv: string[];
}

/** The machine's processes (Linux's /proc; none elsewhere). */
function processes(): Proc[] {
  if (!fs.existsSync("/proc/self/stat")) return [];
  const found: Proc[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      found.push({ pid: Number(entry), ppid: Number(ppid), zombie: state === "Z", argv });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** This process's children that run the server binary. */
function serverChildren(): number[] {
  const bin = serverBin();
  return processes()
    .filter((p) => p.ppid === process.pid && !p.zombie && p.argv[0] === bin)
    .map((p) => p.pid);
}

const config = (serverConfig: Record<string, unknown>) => ({ "opencodeOrchestrator.serverConfig": serverConfig });

async function runMission(goal: string): Promise<MissionSummary> {
  stub.inputAnswers.push(goal);
  const m = (await commands.executeCommand(RUN)) as MissionSummary | undefined;
  assert.ok(m, `the mission "${goal}" started (errors: ${stub.errors().join("; ")})`);
  return m;
}

/** Processes whose command line mentions `text`. */
function processesWith(text: string): number[] {
  return processes()
    .filter((p) => p.argv.join(" ").includes(text))
    .map((p) => p.pid);
}

/**
 * The server behind a script that writes its pid to `pidFile` and refuses to start (exit 3)
 * while `refuseFile` exists.
 */
const wrapperDirs: string[] = [];
after(() => {
  for (const d of wrapperDirs) fs.rmSync(d, { recursive: true, force: true });
});

function wrappedServer(): { bin: string; pidFile: string; refuseFile: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oc-orch-vscode-wrap-"));
  wrapperDirs.push(dir);
  const pidFile = path.join(dir, "server.pid");
  const refuseFile = path.join(dir, "refuse");
  const bin = path.join(dir, "orchestrator");
  fs.writeFileSync(bin, `#!/bin/sh\n[ -e '${refuseFile}' ] && exit 3\necho $$ > '${pidFile}'\nexec '${serverBin()}' "$@"\n`, { mode: 0o755 });
  return { bin, pidFile, refuseFile };
}

const pidIn = (file: string): number => Number(fs.readFileSync(file, "utf8").trim());

/**
 * Kills the server while no message is on its way: vscode-jsonrpc never gives up on a message
 * cut in half (its partial-message timer re-arms forever and keeps the test process alive).
 */
async function killQuietly(a: Activated, pid: number): Promise<void> {
  await waitUntil(() => a.api.controller.state === "running" && a.api.controller.eventSync?.busy === false, "a quiet moment");
  process.kill(pid, "SIGKILL");
}

function traced(a: Activated, fragment: string): boolean {
  return a.output.text.includes(fragment);
}

describe("the extension against the real server", () => {
  test("starts the server for the workspace folder with the settings, declaring work-done progress", async () => {
    const a = await start({ ...config(SCRIPTED), "opencodeOrchestrator.trace.server": "verbose" });
    const c = a.api.controller;
    assert.equal(c.state, "running", c.lastError);
    assert.equal(a.statusBar.text, "$(rocket) 0 running · 0 queued");
    assert.equal(a.statusBar.visible, true);
    assert.equal(a.statusBar.command, "opencodeOrchestrator.missions.focus");
    const stats = await c.request<{ client: { name: string }; workspaceRoot: string; backend: string }>("orchestrator/stats", {});
    assert.equal(stats.client.name, "vscode");
    assert.equal(stats.workspaceRoot, a.ws);
    assert.equal(stats.backend, "scripted");
    assert.equal(c.languageClient?.initializeResult?.serverInfo?.name, "opencode-orchestrator");
    // vscode-languageclient's own capabilities, as sent in `initialize` (the verbose trace).
    const line = a.output.lines.find((l) => l.includes("Sending request 'initialize"));
    assert.ok(line, "the initialize request in the trace");
    const params = JSON.parse(line.slice(line.indexOf("Params: ") + "Params: ".length)) as {
      capabilities: { window?: { workDoneProgress?: boolean } };
      initializationOptions: Record<string, unknown>;
    };
    assert.equal(params.capabilities.window?.workDoneProgress, true);
    assert.deepEqual(params.initializationOptions, { workspaceRoot: a.ws, clientName: "vscode", config: SCRIPTED });
    assert.deepEqual(
      [...stub.commands.keys()].filter((k) => k.startsWith("opencodeOrchestrator.")).sort(),
      [CANCEL, OPEN_RESULT, "opencodeOrchestrator.refresh", RESTART, RUN, SHOW_LOG],
    );
    const [pid, ...others] = c.serverPids;
    assert.ok(pid);
    assert.deepEqual(others, []);
    await a.close();
    current = undefined;
    assert.equal(c.state, "stopped");
    await waitUntil(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, "the server process to end");
    assert.equal(stub.commands.size, 0, "the commands are disposed");
  });

  test("Run Mission: the tree shows it active, then stopped by the loop breaker with its reason; its progress begins and ends", async () => {
    const a = await start(config(SCRIPTED));
    const model = a.api.controller.model;
    const seen: string[] = [];
    model.onDidChange(() => {
      for (const m of model.missionList()) if (seen.at(-1) !== m.status) seen.push(m.status);
    });
    const m = await runMission("Add dark mode");
    assert.equal(m.goal, "Add dark mode");
    assert.equal(a.treeView.reveals.length, 1, "the mission is shown in the tree");
    assert.equal((a.treeView.reveals[0]?.element as { id: string }).id, `mission:${m.missionId}`);
    assert.deepEqual(a.treeView.reveals[0]?.options, { select: true, focus: false, expand: true });

    await waitUntil(() => model.mission(m.missionId)?.status === "stopped", "the mission to stop");
    assert.deepEqual(seen, ["active", "stopped"]);
    const tree = await waitUntil(async () => {
      const t = await renderTree(a.treeView);
      return t[0]?.description.startsWith("stopped") && !model.isRefreshing(m.missionId) ? t : undefined;
    }, "the tree to show the stop");
    const node = tree[0];
    assert.ok(node);
    assert.equal(node.label, "Add dark mode");
    assert.equal(node.icon, "stop-circle");
    assert.equal(node.contextValue, "mission.stopped");
    assert.match(node.description, /^stopped · 0\/0( · \d+\.\ds)?$/);
    assert.match(node.tooltip, /Status: stopped \(loop breaker: no progress in the last 3 continuations/);
    assert.match(model.mission(m.missionId)?.reason ?? "", /^loop breaker: no progress in the last 3 continuations/);

    // The server's work-done progress, through vscode-languageclient: create, begin, end.
    const progress = await waitUntil(() => stub.progress.find((p) => p.options.title === "Mission: Add dark mode" && p.state === "done"), "the progress to end");
    assert.equal(progress.options.cancellable, false);
    // vscode-languageclient shows it in the status bar area (ProgressLocation.Window).
    assert.equal(progress.options.location, ProgressLocation.Window);
    assert.ok(progress.reports.length > 0, "reports");
    assert.ok(traced(a, "Received request 'window/workDoneProgress/create"), "window/workDoneProgress/create");
    assert.ok(traced(a, "Received notification '$/progress'"), "$/progress");
    assert.deepEqual(stub.errors(), []);
  });

  test(
    "by default it connects to the workspace's shared daemon (configured by its files), and runs a mission there",
    async () => {
      const a = await start(
        { "opencodeOrchestrator.standalone": false },
        { workspaceConfig: { ...SCRIPTED, daemon: { idleSeconds: 1 } } },
      );
      assert.equal(a.api.controller.state, "running", a.api.controller.lastError);
      assert.match(a.output.text, /serve \(workspace /, "plain `serve`");
      const m = await runMission("Through the daemon");
      await waitUntil(() => a.api.controller.model.mission(m.missionId)?.status === "stopped", "the mission to stop");
      await waitUntil(() => stub.progress.some((p) => p.options.title === "Mission: Through the daemon" && p.state === "done"), "its progress to end");
      await a.close();
      current = undefined;
      // With no client left the daemon goes after `daemon.idleSeconds`.
      await waitUntil(() => processesWith(`daemon --workspace ${a.ws}`).length === 0, "the daemon to exit", 8000);
    },
  );

  test("Run Mission with an empty goal sends no request", async () => {
    const a = await start(config(SCRIPTED));
    for (const answer of ["", "   ", undefined]) {
      stub.inputAnswers.push(answer);
      assert.equal(await commands.executeCommand(RUN), undefined);
    }
    assert.equal(stub.inputBoxes.length, 3);
    assert.equal(traced(a, "orchestrator/mission/start"), false, "no mission/start was sent");
    assert.deepEqual(stub.messages, []);
    assert.deepEqual(a.api.controller.model.missionList(), []);
  });

  test("Run Mission without an agent runtime shows the server's error (-32014), with or without an OpenCode URL", async () => {
    let a = await start(config({}));
    stub.inputAnswers.push("Add dark mode");
    assert.equal(await commands.executeCommand(RUN), undefined);
    assert.equal(stub.errors().length, 1);
    assert.match(stub.errors()[0] ?? "", /^Could not start the mission: no agent runtime: .*opencodeUrl/);
    assert.match(a.output.text, /Could not start the mission \(-32014\)/);
    await a.close();

    // A URL where nothing answers (a closed port on this machine): the server says so.
    a = await start({ ...config({}), "opencodeOrchestrator.opencodeUrl": "http://127.0.0.1:9" });
    stub.inputAnswers.push("Add dark mode");
    assert.equal(await commands.executeCommand(RUN), undefined);
    assert.match(stub.errors()[0] ?? "", /^Could not start the mission: .*http:\/\/127\.0\.0\.1:9/);
  });

  test("Cancel Mission from the tree item's menu and from the quick pick", async () => {
    const a = await start(config(SLOW));
    const model = a.api.controller.model;
    const first = await runMission("First mission");
    const second = await runMission("Second mission");
    await waitUntil(() => model.mission(second.missionId)?.status === "active", "the second mission");

    // Declining the question cancels nothing.
    stub.warningAnswers.push(undefined);
    assert.equal(await commands.executeCommand(CANCEL, model.missionNode(first.missionId)), false);
    assert.equal(model.mission(first.missionId)?.status, "active");

    stub.warningAnswers.push("Cancel Mission");
    assert.equal(await commands.executeCommand(CANCEL, model.missionNode(first.missionId)), true);
    await waitUntil(() => model.mission(first.missionId)?.status === "cancelled", "the first mission cancelled");
    const modal = stub.messages.filter((m) => m.level === "warning");
    assert.match(modal[0]?.message ?? "", /^Cancel the mission "First mission"\?/);
    assert.deepEqual(modal[0]?.options, { modal: true });

    stub.quickPickAnswers.push((items: Array<{ label: string }>) => items.find((i) => i.label === "Second mission"));
    stub.warningAnswers.push("Cancel Mission");
    assert.equal(await commands.executeCommand(CANCEL), true);
    const offered = (stub.quickPicks[0]?.items ?? []) as Array<{ label: string; description: string }>;
    assert.deepEqual(offered.map((i) => i.label), ["Second mission"], "only active and paused missions are offered");
    assert.match(offered[0]?.description ?? "", /^active/);
    await waitUntil(() => model.mission(second.missionId)?.status === "cancelled", "the second mission cancelled");

    const tree = await waitUntil(async () => {
      const t = await renderTree(a.treeView);
      return t.every((n) => n.icon === "circle-slash") ? t : undefined;
    }, "both missions shown cancelled");
    assert.deepEqual(tree.map((n) => n.label), ["Second mission", "First mission"]);
    await waitUntil(() => stub.progress.filter((p) => p.state === "done").length === 2, "both progress bars to end");

    assert.equal(await commands.executeCommand(CANCEL), false);
    assert.deepEqual(stub.infos(), ["There is no active or paused mission to cancel."]);
    assert.deepEqual(stub.errors(), []);
  });

  test("the status bar counts running and queued tasks, and a resync agrees", async () => {
    const a = await start(config({ backend: "scripted", scheduler: { maxPerAgent: 1 } }));
    const c = a.api.controller;
    const slow = JSON.stringify({ script: { delayMs: 800, reply: "slow done" } });
    for (const d of ["slow one", "slow two"]) {
      await c.request("orchestrator/task/delegate", { agent: "builder", description: d, prompt: slow });
    }
    await waitUntil(() => a.statusBar.text === "$(rocket) 1 running · 1 queued", () => `1 running · 1 queued, not ${a.statusBar.text}`);
    assert.match(a.statusBar.tooltip ?? "", /1 task running, 1 queued/);
    // What orchestrator/stats and task/list say gives the same figures.
    await c.eventSync?.resync();
    assert.equal(a.statusBar.text, "$(rocket) 1 running · 1 queued");
    await waitUntil(() => a.statusBar.text === "$(rocket) 0 running · 0 queued", () => `0 running · 0 queued, not ${a.statusBar.text}`, 5000);
    const tree = await waitUntil(async () => {
      const t = await renderTree(a.treeView);
      return t[0]?.children.every((n) => n.icon === "check") && t[0].children.length === 2 ? t : undefined;
    }, "both tasks done in the tree");
    assert.equal(tree[0]?.label, "Other tasks");
    assert.deepEqual(tree[0]?.children.map((n) => n.label), ["slow two", "slow one"]);
    assert.match(tree[0]?.children[0]?.description ?? "", /^builder · completed · 0\.\ds$/);
  });

  test("Open Task Result of a delegated task, from the tree and from the quick pick", async () => {
    const a = await start(config(SCRIPTED));
    const c = a.api.controller;
    const { task } = await c.request<{ task: TaskRecord }>("orchestrator/task/delegate", {
      agent: "builder",
      description: "write the release notes",
      prompt: "Write the release notes\nfor version 0.1",
    });
    await waitUntil(() => c.model.task(task.id)?.status === "completed", "the task to complete");
    const tree = await renderTree(a.treeView);
    const row = findNode(tree, "write the release notes");
    assert.ok(row, treeText(tree));
    assert.equal(row.command, OPEN_RESULT);
    assert.equal(row.contextValue, "task");

    const doc = (await commands.executeCommand(OPEN_RESULT, c.model.taskNode(task.id))) as OpenedDocument;
    assert.equal(doc.languageId, "markdown");
    const text = doc.getText();
    assert.match(text, /^# write the release notes\n/);
    assert.match(text, /\| Agent \| builder \|/);
    assert.match(text, /\| Status \| completed \|/);
    assert.match(text, /## Result\n\ndone: Write the release notes\n/);
    assert.match(text, /## Prompt\n\n```text\nWrite the release notes\nfor version 0\.1\n```/);
    assert.equal(stub.shownDocuments.length, 1);
    assert.deepEqual(stub.shownDocuments[0]?.options, { preview: true });

    // A failed task: its error.
    const failed = await c.request<{ task: TaskRecord }>("orchestrator/task/delegate", {
      agent: "builder",
      description: "a task that fails",
      prompt: JSON.stringify({ script: { fail: "the model refused" } }),
    });
    await waitUntil(() => c.model.task(failed.task.id)?.status === "failed", "the task to fail");
    stub.quickPickAnswers.push((items: Array<{ taskId: string }>) => items.find((i) => i.taskId === failed.task.id));
    const doc2 = (await commands.executeCommand(OPEN_RESULT)) as OpenedDocument;
    assert.deepEqual(
      (stub.quickPicks[0]?.items as Array<{ label: string }>).map((i) => i.label),
      ["a task that fails", "write the release notes"],
    );
    assert.match(doc2.getText(), /## Error\n\n.*the model refused/);
    assert.deepEqual(stub.errors(), []);

    // An unknown task: the server's error is shown.
    assert.equal(await commands.executeCommand(OPEN_RESULT, c.model.taskNode("tsk_nope")), undefined);
    assert.match(stub.errors()[0] ?? "", /^Could not read the task: /);
  });

  test("a mission's plan shows as items by parent, with agent, status, duration and tokens, and its other tasks", async () => {
    const a = await start(config(SLOW));
    const c = a.api.controller;
    const m = await runMission("Add dark mode");
    const call = (name: string, args: Record<string, unknown>) =>
      c.request("orchestrator/tools/call", { name, arguments: args, context: { sessionId: m.sessionId, agent: "commander" } });
    const script = (usage: Record<string, number>) => JSON.stringify({ script: { delayMs: 150, reply: "built it", usage } });
    await call("mission_triage", { level: "L2", reason: "a short plan" });
    // The Architect's task, delegated from the mission's session, outside the plan.
    await c.request("orchestrator/task/delegate", { agent: "architect", description: "plan the dark mode", prompt: "Plan it", parentSessionId: m.sessionId, background: false });
    await call("plan_edit", {
      edits: [
        { op: "add", id: "ui", title: "The UI" },
        { op: "add", id: "ui.toggle", title: "A toggle", parent: "ui", agent: "builder", description: script({ inputTokens: 100, outputTokens: 20, reasoningTokens: 0, cost: 0.01 }) },
        { op: "add", id: "ui.css", title: "The CSS", parent: "ui", agent: "builder", description: script({ inputTokens: 1000, outputTokens: 200, reasoningTokens: 5, cost: 0.02 }) },
        { op: "add", id: "docs", title: "Docs", agent: "recorder", dependsOn: ["ui"], description: "write the docs" },
      ],
    });
    await call("plan_dispatch", {});
    // No Inspector verdict from the scripted runtime: verification fails until the breaker stops it.
    await waitUntil(() => c.model.mission(m.missionId)?.status === "stopped", "the mission to stop", 15_000);
    const tree = await waitUntil(async () => {
      const t = await renderTree(a.treeView);
      const docs = findNode(t, "Docs");
      return docs?.description.startsWith("recorder · done") && !c.model.isRefreshing(m.missionId) ? t : undefined;
    }, "the plan in the tree");
    const mission = tree[0];
    assert.ok(mission);
    assert.match(mission.description, /^stopped · L2 · \d+\/\d+ · 1\.3k tok · /);
    assert.match(mission.tooltip, /verification did not pass in 3 rounds/);
    const ui = findNode(tree, "The UI");
    assert.ok(ui);
    assert.deepEqual(ui.children.map((n) => n.label), ["A toggle", "The CSS"]);
    assert.match(findNode(tree, "A toggle")?.description ?? "", /^builder · done · 0\.\ds · 120 tok$/);
    assert.match(findNode(tree, "The CSS")?.description ?? "", /^builder · done · 0\.\ds · 1\.2k tok$/);
    assert.equal(findNode(tree, "A toggle")?.icon, "check");
    assert.equal(findNode(tree, "A toggle")?.contextValue, "item.task");
    // The Inspector's verification tasks run no plan item: they are listed under the mission.
    const verify = mission.children.filter((n) => n.label === "Verify: Add dark mode");
    assert.equal(verify.length, 3, treeText(tree));
    assert.match(verify[0]?.description ?? "", /^inspector · completed/);
    assert.ok(findNode(tree, "Fixes from verification round 1"));
    assert.match(mission.children.find((n) => n.label === "plan the dark mode")?.description ?? "", /^architect · completed/);
    assert.equal(tree.length, 1, "no Other tasks: every task is under the mission");
    assert.deepEqual(stub.errors(), []);
  });

  test("a settings change restarts the server with the new settings", async () => {
    const a = await start(config(SCRIPTED));
    const c = a.api.controller;
    const before = c.languageClient;
    const limits = async () => (await c.request<{ limits: { maxPerAgent: number } }>("orchestrator/stats", {})).limits.maxPerAgent;
    assert.equal(await limits(), 10);
    stub.setConfig({ "opencodeOrchestrator.serverConfig": { ...SCRIPTED, scheduler: { maxPerAgent: 3 } } });
    await waitUntil(() => c.languageClient !== before && c.state === "running", "the restart");
    await c.ready();
    assert.equal(await limits(), 3);
    assert.match(a.output.text, /settings changed: restarting the server/);
    assert.equal(a.output.disposed, false, "the output channel outlives the client");
    // A change elsewhere restarts nothing.
    const now = c.languageClient;
    stub.setConfig({ "editor.fontSize": 14, "opencodeOrchestrator.trace.server": "off" });
    assert.equal(c.languageClient, now);
  });

  test("a bad serverConfig: the server's config error is shown and the status bar says it is not running", async () => {
    const a = await start(config({ scheduler: { maxPerAgent: 0 } }));
    assert.equal(a.api.controller.state, "failed");
    assert.ok(
      stub.errors().some((e) => /config error at `scheduler\.maxPerAgent`: must be between 1 and 500, got 0/.test(e)),
      stub.errors().join("\n"),
    );
    assert.equal(a.statusBar.text, "$(rocket) not running");
    assert.equal(a.statusBar.command, SHOW_LOG);
    stub.messages.length = 0;
    stub.inputAnswers.push("Add dark mode");
    assert.equal(await commands.executeCommand(RUN), undefined);
    assert.match(stub.errors()[0] ?? "", /^Could not start the mission: The orchestrator server is not running: it could not start/);
  });

  test("a server binary that is not there: an error saying how to install it", async () => {
    const a = await start({ "opencodeOrchestrator.serverPath": "/nonexistent/opencode-orchestrator" });
    assert.equal(a.api.controller.state, "failed");
    assert.match(stub.errors()[0] ?? "", /serverPath` is `\/nonexistent\/opencode-orchestrator`, but .* is not an executable file.*install\.sh/);
    assert.equal(a.statusBar.text, "$(rocket) not running");
  });

  test("without a workspace folder no server is started, and commands say why", async () => {
    const a = await start({}, { folder: null });
    assert.equal(a.api.controller.state, "no-folder");
    assert.equal(a.statusBar.visible, false);
    stub.inputAnswers.push("Add dark mode");
    assert.equal(await commands.executeCommand(RUN), undefined);
    assert.match(stub.errors()[0] ?? "", /open a folder first/);
  });

  test("a server that dies and cannot start again: not running, and Restart Server starts it", async () => {
    const w = wrappedServer();
    const a = await start({ ...config(SCRIPTED), "opencodeOrchestrator.serverPath": w.bin });
    const c = a.api.controller;
    assert.equal(c.state, "running", c.lastError);
    fs.writeFileSync(w.refuseFile, "");
    await killQuietly(a, pidIn(w.pidFile));
    // vscode-languageclient restarts it a few times, each start fails, then it gives up.
    await waitUntil(() => c.state === "failed", () => `failed, not ${c.state}`, 20_000);
    assert.equal(a.statusBar.text, "$(rocket) not running");
    // Each failed start ends as StartFailed or Stopped, depending on how far it got.
    assert.match(c.lastError ?? "", /^it (could not start|stopped) \(see the log\)$/);
    const shown = stub.messages.find((m) => m.level === "error" && /^OpenCode Orchestrator: the server is not running: it (could not start|stopped)/.test(m.message));
    assert.ok(shown, stub.errors().join("\n"));
    assert.deepEqual(shown.items, ["Restart Server", "Show Log"]);
    assert.equal(stub.messages.filter((m) => m.message.startsWith("OpenCode Orchestrator: the server is not running")).length, 1, "told once");

    fs.rmSync(w.refuseFile);
    await commands.executeCommand(RESTART);
    assert.equal(c.state, "running", c.lastError);
    assert.equal(a.statusBar.text, "$(rocket) 0 running · 0 queued");
    assert.equal((await c.request<{ backend: string }>("orchestrator/stats", {})).backend, "scripted");
  });

  test("a server that keeps crashing stays stopped; the error's Restart Server button starts it again", async () => {
    const w = wrappedServer();
    const a = await start({ ...config(SCRIPTED), "opencodeOrchestrator.serverPath": w.bin });
    const c = a.api.controller;
    stub.messageAnswers.push({ match: /the server is not running/, answer: () => "Restart Server" });
    const first = c.languageClient;
    // vscode-languageclient restarts a server that dies, 4 times within 3 minutes; the 5th
    // death leaves it stopped.
    for (let death = 1; death <= 5; death++) {
      const pid = pidIn(w.pidFile);
      await killQuietly(a, pid);
      if (death < 5) await waitUntil(() => c.state === "running" && c.languageClient === first && fs.existsSync(w.pidFile) && pidIn(w.pidFile) !== pid, `restart ${death}`, 15_000);
    }
    const told = await waitUntil(() => stub.messages.find((m) => /^OpenCode Orchestrator: the server is not running: it stopped/.test(m.message)), "the error", 15_000);
    assert.deepEqual(told.items, ["Restart Server", "Show Log"]);
    // The button: a new client, running.
    await waitUntil(() => c.languageClient !== first && c.state === "running", () => `running again, not ${c.state}`, 15_000);
    await c.ready();
    assert.equal(stub.messages.filter((m) => m.message.startsWith("OpenCode Orchestrator: the server is not running")).length, 1);
    assert.equal((await c.request<{ backend: string }>("orchestrator/stats", {})).backend, "scripted");
  });

  test("Show Log shows the output channel and where the server's log file is", async () => {
    const a = await start(config(SCRIPTED));
    await commands.executeCommand(SHOW_LOG);
    assert.equal(a.output.visible, true);
    assert.ok(a.output.text.includes(`the server's own log file: ${a.logFile}`), a.output.text);
  });
});
