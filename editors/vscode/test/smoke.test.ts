import assert from "node:assert/strict";
import { test } from "node:test";

import { activate, SCRIPTED } from "./helpers";

test("smoke", async () => {
  const a = await activate({ "opencodeOrchestrator.serverConfig": SCRIPTED });
  console.error(a.api.controller.state, a.api.controller.lastError, a.statusBar.text);
  console.error(a.output.text);
  assert.equal(a.api.controller.state, "running");
  await a.close();
});
