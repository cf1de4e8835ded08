// The Missions view: a thin `TreeDataProvider` over the model's nodes and views.

import * as vscode from "vscode";

import type { MissionTreeModel, ModelNode } from "./model";

export const VIEW_ID = "opencodeOrchestrator.missions";

export class MissionTreeProvider implements vscode.TreeDataProvider<ModelNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ModelNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private timer: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout;
  private readonly subscription: { dispose(): void };

  /**
   * Changes are passed on at most every `throttleMs`; while tasks run, the tree is refreshed
   * every `tickMs` so their durations go on.
   */
  constructor(
    private readonly model: MissionTreeModel,
    private readonly throttleMs = 100,
    tickMs = 5000,
  ) {
    this.subscription = model.onDidChange(() => this.schedule());
    this.ticker = setInterval(() => {
      if (model.taskCounts().running > 0) this.schedule();
    }, tickMs);
    this.ticker.unref?.();
  }

  getTreeItem(node: ModelNode): vscode.TreeItem {
    const v = this.model.view(node);
    const open = node.kind === "mission" && (v.contextValue === "mission.active" || v.contextValue === "mission.paused");
    const state = !v.collapsible
      ? vscode.TreeItemCollapsibleState.None
      : open
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(v.label, state);
    item.id = node.id;
    item.description = v.description;
    item.tooltip = v.tooltip;
    item.iconPath = new vscode.ThemeIcon(v.icon, v.iconColor ? new vscode.ThemeColor(v.iconColor) : undefined);
    item.contextValue = v.contextValue;
    if (v.taskId && node.kind !== "mission") {
      item.command = { command: "opencodeOrchestrator.openTaskResult", title: "Open Task Result", arguments: [node] };
    }
    return item;
  }

  getChildren(node?: ModelNode): ModelNode[] {
    return node ? this.model.children(node) : this.model.roots();
  }

  getParent(node: ModelNode): ModelNode | undefined {
    return this.model.parent(node);
  }

  /** Passes pending changes on now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.emitter.fire(undefined);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.subscription.dispose();
    this.emitter.dispose();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.throttleMs);
    this.timer.unref?.();
  }
}
