// The built bundle, as OpenCode loads it: one file, one exported plugin function.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, test } from "node:test";

import type { Hooks, Plugin } from "@opencode-ai/plugin";

import { FakeClient, PLUGIN_DIR, pluginInput, scriptedConfig, serverBin, tempWorkspace } from "./helpers.js";

const DIST = path.join(PLUGIN_DIR, "dist", "index.js");

async function load(): Promise<Record<string, unknown>> {
  assert.ok(fs.existsSync(DIST), `${DIST} is missing: run npm run build`);
  return (await import(pathToFileURL(DIST).href)) as Record<string, unknown>;
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe("dist/index.js", () => {
  test("is self-contained: it imports nothing but Node built-ins", () => {
    const src = fs.readFileSync(DIST, "utf8");
    const imports = [...src.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    assert.ok(imports.length > 0);
    for (const spec of imports) assert.match(spec ?? "", /^node:/);
    assert.doesNotMatch(src, /\brequire\(/);
  });

  test("exports exactly one function, the plugin (OpenCode calls every exported function)", async () => {
    const mod = await load();
    assert.deepEqual(Object.keys(mod), ["OrchestratorPlugin"]);
    assert.equal(typeof mod.OrchestratorPlugin, "function");
  });

  test("loads without the server and explains how to install it", async () => {
    const plugin = (await load()).OrchestratorPlugin as Plugin;
    const ws = tempWorkspace();
    const hooks = await withEnv({ OPENCODE_ORCHESTRATOR_BIN: path.join(ws, "missing") }, () => plugin(pluginInput(new FakeClient(), ws), {}));
    const t = hooks.tool?.delegate_task;
    assert.ok(t);
    await assert.rejects(
      t.execute({}, {} as never),
      /OPENCODE_ORCHESTRATOR_BIN.*not an executable file.*install/s,
    );
  });

  test("starts the server and registers its tools", async () => {
    const plugin = (await load()).OrchestratorPlugin as Plugin;
    const ws = tempWorkspace();
    const client = new FakeClient();
    const hooks: Hooks = await plugin(pluginInput(client, ws), { bin: serverBin(), standalone: true, config: scriptedConfig(ws), toasts: false });
    try {
      for (const name of ["cancel_task", "delegate_task", "get_task_result", "list_tasks"]) assert.ok(name in (hooks.tool ?? {}), name);
      assert.equal(typeof hooks.config, "function");
      assert.equal(typeof hooks.event, "function");
    } finally {
      await hooks.dispose?.();
    }
  });
});
