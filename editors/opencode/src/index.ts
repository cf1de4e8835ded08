// OpenCode loads every function this module exports as a plugin, so it exports exactly one.

import type { Plugin } from "@opencode-ai/plugin";

import { createOrchestrator, unavailableHooks } from "./plugin.js";

/**
 * opencode-orchestrator for OpenCode: starts `opencode-orchestrator serve` for the project and
 * registers its tools, its agents and the /task command. Options: `bin`, `toasts`, `config`
 * (README.md).
 */
export const OrchestratorPlugin: Plugin = async (input, options) => {
  try {
    return (await createOrchestrator(input, options)).hooks;
  } catch (e) {
    // Never take OpenCode down with us.
    return unavailableHooks(`opencode-orchestrator failed to load: ${(e as Error).message}`);
  }
};
