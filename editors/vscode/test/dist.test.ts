// What ships: dist/extension.js (the esbuild bundle) and package.json's contributions.

import assert from "node:assert/strict";
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { afterEach, describe, test } from "node:test";

import { VIEW_ID } from "../src/treeView";
import { DEFAULT_SETTINGS, SECTION } from "../src/settings";
import { activate, EXTENSION_DIR, SCRIPTED, waitUntil, type Activated } from "./helpers";
import { commands, stub } from "./vscode-stub";

interface Manifest {
  main: string;
  engines: { vscode: string };
  activationEvents?: string[];
  devDependencies: Record<string, string>;
  contributes: {
    commands: Array<{ command: string; title: string; category?: string }>;
    viewsContainers: { activitybar: Array<{ id: string; icon: string }> };
    views: Record<string, Array<{ id: string }>>;
    menus: Record<string, Array<{ command: string; when?: string }>>;
    configuration: { properties: Record<string, { default?: unknown }> };
  };
}

const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, "package.json"), "utf8")) as Manifest;
const bundle = path.join(EXTENSION_DIR, "dist", "extension.js");

let current: Activated | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

describe("dist/extension.js", () => {
  test("activates on the vscode stub and runs a mission against the real server", async () => {
    current = await activate({ "opencodeOrchestrator.serverConfig": SCRIPTED }, { bundle: true });
    const c = current.api.controller;
    assert.equal(c.state, "running", c.lastError);
    stub.inputAnswers.push("From the bundle");
    const m = (await commands.executeCommand("opencodeOrchestrator.runMission")) as { missionId: string } | undefined;
    assert.ok(m, stub.errors().join("; "));
    await waitUntil(() => c.model.mission(m.missionId)?.status === "stopped", "the mission to stop");
    await waitUntil(() => stub.progress.some((p) => p.options.title === "Mission: From the bundle" && p.state === "done"), "its progress to end");
  });

  test("needs nothing at run time but vscode and Node's built-ins", () => {
    const code = fs.readFileSync(bundle, "utf8");
    const required = new Set([...code.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1] as string));
    const allowed = new Set(["vscode", ...builtinModules, ...builtinModules.map((b) => `node:${b}`)]);
    assert.deepEqual([...required].filter((r) => !allowed.has(r)), []);
    assert.ok(required.has("vscode"));
  });
});

describe("package.json", () => {
  test("contributes exactly the commands the extension registers, and its menus name them", async () => {
    current = await activate({}, { folder: null });
    const registered = [...stub.commands.keys()].sort();
    const contributed = manifest.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual(contributed, registered);
    for (const c of manifest.contributes.commands) assert.equal(c.category, "OpenCode Orchestrator", c.command);
    for (const [menu, entries] of Object.entries(manifest.contributes.menus)) {
      for (const e of entries) assert.ok(contributed.includes(e.command), `${menu}: ${e.command}`);
    }
  });

  test("contributes the Missions view in an activity bar container with its icon", () => {
    const container = manifest.contributes.viewsContainers.activitybar[0];
    assert.ok(container);
    assert.ok(fs.existsSync(path.join(EXTENSION_DIR, container.icon)), container.icon);
    assert.match(fs.readFileSync(path.join(EXTENSION_DIR, container.icon), "utf8"), /^<svg /);
    assert.deepEqual(manifest.contributes.views[container.id]?.map((v) => v.id), [VIEW_ID]);
  });

  test("declares the settings the extension reads, with the same defaults", () => {
    const props = manifest.contributes.configuration.properties;
    const keys = Object.keys(DEFAULT_SETTINGS).map((k) => `${SECTION}.${k}`);
    assert.deepEqual(Object.keys(props).sort(), [...keys, `${SECTION}.trace.server`].sort());
    for (const [k, v] of Object.entries(DEFAULT_SETTINGS)) assert.deepEqual(props[`${SECTION}.${k}`]?.default, v, k);
  });

  test("main is the bundle, and engines.vscode is not older than @types/vscode", () => {
    assert.equal(manifest.main, "dist/extension.js");
    assert.ok(fs.existsSync(bundle));
    const engine = manifest.engines.vscode.replace(/^\^/, "");
    assert.equal(manifest.devDependencies["@types/vscode"], engine);
  });
});
