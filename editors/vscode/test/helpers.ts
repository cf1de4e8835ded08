// Shared pieces of the tests: the real server binary, temp workspaces, activating the extension
// on the `vscode` stub, reading the tree.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import * as vscode from "vscode";

import type { ExtensionApi } from "../src/extension";
import type { ModelNode } from "../src/model";
import { stub, type FakeOutputChannel, type FakeStatusBarItem, type FakeTreeView } from "./vscode-stub";

/** editors/vscode (tests run from .test-build/test). */
export const EXTENSION_DIR = path.resolve(__dirname, "..", "..");
export const REPO_ROOT = path.resolve(EXTENSION_DIR, "..", "..");

/** The server binary: $OPENCODE_ORCHESTRATOR_BIN, else the repository's target/debug build. */
export function serverBin(): string {
  const fromEnv = process.env.OPENCODE_ORCHESTRATOR_BIN;
  const bin = fromEnv && fromEnv.trim() !== "" ? fromEnv : path.join(REPO_ROOT, "target", "debug", "opencode-orchestrator");
  if (!fs.existsSync(bin)) {
    throw new Error(`the server binary ${bin} does not exist: build it (cargo build) or set OPENCODE_ORCHESTRATOR_BIN`);
  }
  return bin;
}

const made: string[] = [];

/**
 * A fresh workspace folder, and a private config home whose user config file sends the
 * server's log into the workspace (so the user's own config and log are left alone).
 */
export function tempWorkspace(prefix = "oc-orch-vscode-"): { ws: string; logFile: string } {
  const ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(ws);
  const xdg = path.join(ws, ".xdg");
  const logFile = path.join(ws, "orchestrator.log");
  fs.mkdirSync(path.join(xdg, "opencode-orchestrator"), { recursive: true });
  fs.writeFileSync(path.join(xdg, "opencode-orchestrator", "config.json"), JSON.stringify({ log: { path: logFile } }));
  // The server (a child of this process) reads its user config from here.
  process.env.XDG_CONFIG_HOME = xdg;
  process.env.RUST_LOG = process.env.RUST_LOG ?? "warn";
  return { ws, logFile };
}

process.on("exit", () => {
  for (const d of made) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

export const SCRIPTED = { backend: "scripted", missions: { continueDelayMs: 0 } };

export interface Activated {
  api: ExtensionApi;
  ws: string;
  logFile: string;
  context: { subscriptions: Array<{ dispose(): unknown }> };
  output: FakeOutputChannel;
  statusBar: FakeStatusBarItem;
  treeView: FakeTreeView;
  /** Deactivates and disposes, as VS Code does when the window closes. */
  close(): Promise<void>;
}

type ExtensionModule = { activate(ctx: unknown): ExtensionApi; deactivate(): Promise<void> };

/**
 * Activates the extension (the compiled sources, or dist/extension.js with `bundle`) in a temp
 * workspace with these settings, and waits until the server runs and the first sync is over.
 */
export async function activate(
  settings: Record<string, unknown>,
  options: { bundle?: boolean; folder?: string | null; wait?: boolean; workspaceConfig?: Record<string, unknown> } = {},
): Promise<Activated> {
  stub.reset();
  const { ws, logFile } = tempWorkspace();
  if (options.workspaceConfig) {
    fs.mkdirSync(path.join(ws, ".opencode"), { recursive: true });
    fs.writeFileSync(path.join(ws, ".opencode", "orchestrator.json"), JSON.stringify(options.workspaceConfig));
  }
  const folder = options.folder === undefined ? ws : options.folder;
  stub.setFolder(folder ?? undefined);
  // Standalone unless a test says otherwise: the workspace's shared daemon does not take
  // `initializationOptions.config` (docs/CONFIG.md), and the tests set the scripted runtime there.
  const defaults = { "opencodeOrchestrator.serverPath": serverBin(), "opencodeOrchestrator.standalone": true };
  for (const [k, v] of Object.entries({ ...defaults, ...settings })) stub.config.set(k, v);
  // Loaded here, after test/setup.js pointed `vscode` at the stub (CommonJS, as VS Code loads it).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = (options.bundle ? require(path.join(EXTENSION_DIR, "dist", "extension.js")) : require("../src/extension")) as ExtensionModule;
  const context = { subscriptions: [] as Array<{ dispose(): unknown }>, extensionPath: EXTENSION_DIR, extensionUri: vscode.Uri.file(EXTENSION_DIR) };
  const api = mod.activate(context);
  if (options.wait !== false) await api.controller.ready();
  const output = stub.outputChannels[0];
  const statusBar = stub.statusBarItems[0];
  const treeView = stub.treeViews[0];
  if (!output || !statusBar || !treeView) throw new Error("activate created no output channel, status bar item or tree view");
  return {
    api,
    ws,
    logFile,
    context,
    output,
    statusBar,
    treeView,
    close: async () => {
      await mod.deactivate();
      for (const d of context.subscriptions.splice(0)) d.dispose();
    },
  };
}

export { delay, waitUntil } from "./helpers-pure";

export interface RenderedNode {
  id: string;
  label: string;
  description: string;
  tooltip: string;
  icon: string;
  contextValue: string;
  collapsible: number;
  command?: string;
  children: RenderedNode[];
}

/** The whole tree as the view would show it (every node expanded). */
export async function renderTree(view: FakeTreeView, parent?: unknown): Promise<RenderedNode[]> {
  const kids = ((await view.provider.getChildren(parent)) ?? []) as ModelNode[];
  const out: RenderedNode[] = [];
  for (const k of kids) {
    const item = await view.provider.getTreeItem(k);
    out.push({
      id: item.id ?? "",
      label: item.label,
      description: item.description ?? "",
      tooltip: item.tooltip ?? "",
      icon: item.iconPath?.id ?? "",
      contextValue: item.contextValue ?? "",
      collapsible: item.collapsibleState,
      ...(item.command ? { command: item.command.command } : {}),
      children: await renderTree(view, k),
    });
  }
  return out;
}

/** The first node (depth first) whose label matches. */
export function findNode(nodes: RenderedNode[], label: string | RegExp): RenderedNode | undefined {
  for (const n of nodes) {
    if (typeof label === "string" ? n.label === label : label.test(n.label)) return n;
    const inner = findNode(n.children, label);
    if (inner) return inner;
  }
  return undefined;
}

/** One line per node, indented: `icon label — description`. */
export function treeText(nodes: RenderedNode[], indent = ""): string {
  return nodes.map((n) => `${indent}${n.icon} ${n.label} — ${n.description}\n${treeText(n.children, `${indent}  `)}`).join("");
}
