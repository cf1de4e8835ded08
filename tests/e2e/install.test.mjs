// scripts/install.sh and scripts/uninstall.sh, then OpenCode loading what was installed: the
// plugin file finds the installed server on its own (no option, not on PATH).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startFakeModel } from "./lib/fake-model.mjs";
import { startOpencodeServe } from "./lib/opencode.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

test("install puts the server and the plugin where OpenCode finds them; uninstall removes them", { timeout: 600_000 }, async () => {
  const root = mkdtempSync(path.join(tmpdir(), "oo-install-"));
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(root, "config"),
    CARGO_INSTALL_ROOT: path.join(root, "cargo"),
  };
  const bin = path.join(root, "cargo/bin/opencode-orchestrator");
  const plugin = path.join(root, "config/opencode/plugin/opencode-orchestrator.js");
  let model;
  let oc;
  try {
    const out = execFileSync(path.join(repo, "scripts/install.sh"), ["--debug"], { cwd: repo, env, encoding: "utf8" });
    assert.match(out, /installed/);
    assert.ok(existsSync(bin), "server installed");
    assert.ok(existsSync(plugin), "plugin installed");
    // Running it again replaces both.
    execFileSync(path.join(repo, "scripts/install.sh"), ["--debug"], { cwd: repo, env, encoding: "utf8" });

    model = await startFakeModel();
    oc = await startOpencodeServe({
      modelPort: model.port,
      plugins: [plugin],
      env: { CARGO_INSTALL_ROOT: env.CARGO_INSTALL_ROOT, OPENCODE_ORCHESTRATOR_BIN: undefined },
    });
    const agents = (await oc.client.app.agents()).data.map((a) => a.name);
    assert.ok(agents.includes("commander") && agents.includes("builder"), `agents: ${agents}`);
    await oc.stop();
    oc = undefined;

    execFileSync(path.join(repo, "scripts/uninstall.sh"), [], { cwd: repo, env, encoding: "utf8" });
    assert.ok(!existsSync(plugin), "plugin removed");
    assert.ok(!existsSync(bin), "server removed");
  } finally {
    await oc?.stop();
    await model?.close();
    // The installed plugin connected to the project's shared daemon: stop it with the test.
    spawnSync("pkill", ["-f", `${bin} daemon --workspace`]);
    rmSync(root, { recursive: true, force: true });
  }
});
