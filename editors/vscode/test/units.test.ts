// Small pure parts: finding the binary, the settings and `initializationOptions`, the task
// document, the checks of the server's replies.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";

import { findBinary } from "../src/binary";
import { cancelOfReply, missionOfReply, missionsOfReply, missionSummaryOfReply, replayOfReply, statsOfReply, taskOfReply, tasksOfReply } from "../src/protocol";
import { DEFAULT_SETTINGS, initializationOptions, parseSettings, serverArgs, type Settings } from "../src/settings";
import { taskDocument } from "../src/taskDocument";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oc-orch-vscode-units-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function executable(rel: string): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "#!/bin/sh\n", { mode: 0o755 });
  return file;
}

describe("findBinary", () => {
  const onPath = executable("path-bin/opencode-orchestrator");
  const inCargo = executable("cargo/bin/opencode-orchestrator");
  const custom = executable("ws/tools/orch");
  fs.writeFileSync(path.join(dir, "not-executable"), "", { mode: 0o644 });
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: path.join(dir, "path-bin"), CARGO_HOME: path.join(dir, "cargo"), ...extra });

  test("the default name: the environment variable, then PATH, then cargo's bin folder", () => {
    assert.deepEqual(findBinary("opencode-orchestrator", env(), dir), { ok: true, path: onPath, source: "path" });
    assert.deepEqual(findBinary("", env({ OPENCODE_ORCHESTRATOR_BIN: custom }), dir), { ok: true, path: custom, source: "env" });
    assert.deepEqual(findBinary(undefined, env({ PATH: "/nonexistent" }), dir), { ok: true, path: inCargo, source: "cargo" });
    const none = findBinary("opencode-orchestrator", { PATH: "/nonexistent", CARGO_HOME: "/nonexistent", HOME: "/nonexistent" }, dir);
    assert.equal(none.ok, false);
    assert.match(!none.ok ? none.message : "", /not on PATH nor in ~\/.cargo\/bin.*install\.sh/);
  });

  test("a path in the setting, relative to the workspace folder; a wrong one is an error, not replaced", () => {
    assert.deepEqual(findBinary("tools/orch", env(), path.join(dir, "ws")), { ok: true, path: custom, source: "setting" });
    assert.deepEqual(findBinary(custom, env(), undefined), { ok: true, path: custom, source: "setting" });
    const bad = findBinary(path.join(dir, "not-executable"), env(), dir);
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.message : "", /is not an executable file/);
    const missing = findBinary("orch-elsewhere", env(), dir);
    assert.match(!missing.ok ? missing.message : "", /`orch-elsewhere`, which is not on PATH/);
  });
});

describe("settings", () => {
  const get = (values: Partial<Record<keyof Settings, unknown>>) => (key: keyof Settings) => values[key];

  test("initializationOptions: workspace, client name, the OpenCode URL only when set, the config only when not empty", () => {
    const parsed = parseSettings(get({}));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.settings, DEFAULT_SETTINGS);
    assert.deepEqual(initializationOptions(parsed.settings, "/w"), { workspaceRoot: "/w", clientName: "vscode" });
    assert.deepEqual(serverArgs(parsed.settings), ["serve"]);
    const full = parseSettings(get({ opencodeUrl: " http://127.0.0.1:4096 ", serverConfig: { backend: "scripted" }, standalone: true }));
    assert.ok(full.ok);
    assert.deepEqual(initializationOptions(full.settings, "/w"), {
      workspaceRoot: "/w",
      clientName: "vscode",
      opencodeUrl: "http://127.0.0.1:4096",
      config: { backend: "scripted" },
    });
    assert.deepEqual(serverArgs(full.settings), ["serve", "--standalone"]);
  });

  test("a value of the wrong type is an error naming the setting", () => {
    assert.deepEqual(parseSettings(get({ serverConfig: [1] })), { ok: false, message: "opencodeOrchestrator.serverConfig must be an object" });
    assert.deepEqual(parseSettings(get({ serverPath: 3 })), { ok: false, message: "opencodeOrchestrator.serverPath must be a string" });
    assert.deepEqual(parseSettings(get({ standalone: "yes" })), { ok: false, message: "opencodeOrchestrator.standalone must be true or false" });
  });
});

describe("taskDocument", () => {
  test("the task's facts, its error and result, and its prompt in a fence it cannot close", () => {
    const doc = taskDocument({
      id: "tsk_1",
      agent: "builder",
      description: "fix | the table",
      status: "failed",
      missionId: "msn_1",
      planItem: "ui.css",
      startedAt: 1_795_000_000_000,
      finishedAt: 1_795_000_004_200,
      error: "the model refused",
      result: "partial answer",
      usage: { inputTokens: 1000, outputTokens: 200, reasoningTokens: 34, cost: 0.02 },
      prompt: "do it\n```\nnot a fence end",
    });
    assert.match(doc, /^# fix \| the table\n/);
    assert.match(doc, /\| Mission \| `msn_1`, plan item `ui\.css` \|/);
    assert.match(doc, /\| Duration \| 4\.2s \|/);
    assert.match(doc, /\| Tokens \| 1\.2k tok \(input 1000, output 200, reasoning 34\), \$0\.0200 \|/);
    assert.match(doc, /## Error\n\nthe model refused\n/);
    assert.match(doc, /## Result\n\npartial answer\n/);
    assert.match(doc, /## Prompt\n\n````text\ndo it\n```\nnot a fence end\n````/);
  });

  test("a task that is still running says so", () => {
    assert.match(taskDocument({ id: "tsk_2", agent: "builder", description: "d", status: "running" }), /_No result yet: the task is running\._/);
  });
});

describe("replies", () => {
  test("mission/get and task/get replies are checked before the model gets them", () => {
    const mission = { missionId: "msn_1", goal: "g", status: "active" };
    assert.equal(missionOfReply({ mission }, "mission/get msn_1"), mission);
    const task = { id: "tsk_1", agent: "builder", description: "d", status: "running" };
    assert.equal(taskOfReply({ task }, "task/get tsk_1"), task);
    for (const bad of [null, {}, { mission: null }, { mission: { goal: "g", status: "active" } }, { mission: { missionId: "msn_1" } }]) {
      assert.throws(() => missionOfReply(bad, "mission/get msn_1"), /^Error: mission\/get msn_1: the server's reply has no mission/, JSON.stringify(bad));
    }
    for (const bad of [undefined, { task: "tsk_1" }, { task: { id: "tsk_1", status: "running" } }, { tasks: [task] }]) {
      assert.throws(() => taskOfReply(bad, "task/get tsk_1"), /^Error: task\/get tsk_1: the server's reply has no task/, JSON.stringify(bad));
    }
  });

  test("the replies commands and resynchronisation read are checked too", () => {
    const mission = { missionId: "msn_1", goal: "g", status: "active" };
    const task = { taskId: "tsk_1", agent: "builder", description: "d", status: "queued" };
    assert.equal(missionSummaryOfReply({ mission }, "mission/start"), mission);
    assert.deepEqual(missionsOfReply({ missions: [mission] }, "mission/list"), [mission]);
    assert.deepEqual(tasksOfReply({ tasks: [task] }, "task/list"), [task]);
    assert.deepEqual(cancelOfReply({ mission, cancelled: false }, "mission/cancel"), { mission, cancelled: false });
    const stats = { running: 1, queued: 0, lastSeq: 7 };
    assert.equal(statsOfReply(stats, "stats"), stats);
    const page = { events: [], nextSeq: 8, more: false };
    assert.equal(replayOfReply(page, "events/replay"), page);

    assert.throws(() => missionSummaryOfReply({ missions: [mission] }, "mission/start"), /^Error: mission\/start: the server's reply has no mission/);
    for (const bad of [null, { missions: null }, { missions: [mission, { goal: "no id" }] }, { missions: mission }]) {
      assert.throws(() => missionsOfReply(bad, "mission/list"), /^Error: mission\/list: the server's reply has no list of missions/, JSON.stringify(bad));
    }
    for (const bad of [{}, { tasks: [{ ...task, taskId: 1 }] }, { tasks: [{ id: "tsk_1", agent: "a", status: "queued" }] }]) {
      assert.throws(() => tasksOfReply(bad, "task/list"), /^Error: task\/list: the server's reply has no list of tasks/, JSON.stringify(bad));
    }
    assert.throws(() => cancelOfReply({ mission }, "mission/cancel"), /^Error: mission\/cancel: the server's reply does not say whether it cancelled/);
    for (const bad of [{}, { running: 1, queued: 0 }, { running: 1, queued: 0, lastSeq: 1.5 }, { running: "1", queued: 0, lastSeq: 1 }]) {
      assert.throws(() => statsOfReply(bad, "stats"), /^Error: stats: the server's reply has no counts and last event number/, JSON.stringify(bad));
    }
    for (const bad of [[], { events: {}, more: false }, { events: [] }]) {
      assert.throws(() => replayOfReply(bad, "events/replay"), /^Error: events\/replay: the server's reply has no page of events/, JSON.stringify(bad));
    }
  });
});
