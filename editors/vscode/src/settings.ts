// The extension's settings (package.json `contributes.configuration`) and what the server gets
// from them in `initialize`. No `vscode` here: src/controller.ts reads the values.

import { isRecord } from "./protocol";

export const SECTION = "opencodeOrchestrator";

export interface Settings {
  /** `opencodeOrchestrator.serverPath`: a path or a command name. */
  serverPath: string;
  /** `opencodeOrchestrator.opencodeUrl`: OpenCode's server URL; empty for none. */
  opencodeUrl: string;
  /** `opencodeOrchestrator.serverConfig` (advanced): `initializationOptions.config`. */
  serverConfig: Record<string, unknown>;
  /**
   * `opencodeOrchestrator.standalone` (advanced): a server of this window's own
   * (`serve --standalone`) instead of the workspace's shared daemon (`serve`).
   */
  standalone: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  serverPath: "opencode-orchestrator",
  opencodeUrl: "",
  serverConfig: {},
  standalone: false,
};

/** Settings changes that need the server restarted (`trace.server` is the client's own). */
export const RESTART_KEYS = ["serverPath", "opencodeUrl", "serverConfig", "standalone"].map((k) => `${SECTION}.${k}`);

/** Checks raw setting values; a wrong type is an error, never silently replaced. */
export function parseSettings(get: (key: keyof Settings) => unknown): { ok: true; settings: Settings } | { ok: false; message: string } {
  const serverPath = get("serverPath") ?? DEFAULT_SETTINGS.serverPath;
  const opencodeUrl = get("opencodeUrl") ?? DEFAULT_SETTINGS.opencodeUrl;
  const serverConfig = get("serverConfig") ?? DEFAULT_SETTINGS.serverConfig;
  const standalone = get("standalone") ?? DEFAULT_SETTINGS.standalone;
  if (typeof serverPath !== "string") return { ok: false, message: `${SECTION}.serverPath must be a string` };
  if (typeof opencodeUrl !== "string") return { ok: false, message: `${SECTION}.opencodeUrl must be a string` };
  if (!isRecord(serverConfig)) return { ok: false, message: `${SECTION}.serverConfig must be an object` };
  if (typeof standalone !== "boolean") return { ok: false, message: `${SECTION}.standalone must be true or false` };
  return { ok: true, settings: { serverPath, opencodeUrl: opencodeUrl.trim(), serverConfig, standalone } };
}

/** The server's command line after the binary. */
export function serverArgs(settings: Settings): string[] {
  return settings.standalone ? ["serve", "--standalone"] : ["serve"];
}

/** `initializationOptions` of `initialize` (docs/PROTOCOL.md). */
export function initializationOptions(settings: Settings, workspaceRoot: string): Record<string, unknown> {
  const options: Record<string, unknown> = { workspaceRoot, clientName: "vscode" };
  if (settings.opencodeUrl !== "") options.opencodeUrl = settings.opencodeUrl;
  if (Object.keys(settings.serverConfig).length > 0) options.config = settings.serverConfig;
  return options;
}
