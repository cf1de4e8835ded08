// The extension's entry point: the server for the first workspace folder (src/controller.ts), the
// Missions view, the status bar item and the commands.

import * as vscode from "vscode";

import { registerCommands } from "./commands";
import { Controller } from "./controller";
import type { ModelNode } from "./model";
import { MissionTreeProvider, VIEW_ID } from "./treeView";

/** What `activate` returns (the tests use it; other extensions may too). */
export interface ExtensionApi {
  controller: Controller;
  tree: MissionTreeProvider;
  treeView: vscode.TreeView<ModelNode>;
}

let current: Controller | undefined;

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const controller = new Controller();
  current = controller;
  const tree = new MissionTreeProvider(controller.model);
  const treeView = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(
    controller,
    tree,
    treeView,
    ...registerCommands({
      controller,
      reveal: async (node) => {
        tree.flush();
        await treeView.reveal(node, { select: true, focus: false, expand: true });
      },
    }),
  );
  void controller.start();
  return { controller, tree, treeView };
}

/** Stops the server (`shutdown`, `exit`; killed if it does not go within 2 s). */
export async function deactivate(): Promise<void> {
  const c = current;
  current = undefined;
  await c?.stop();
}
