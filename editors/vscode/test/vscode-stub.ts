// A fake of the `vscode` module: what the extension and vscode-languageclient use, and nothing
// else. VS Code itself cannot be downloaded here; test/setup.ts makes `require("vscode")` load
// this file. Everything the extension shows or asks is recorded in `stub` for the tests to read,
// and the answers to input boxes, quick picks and modal questions are queued there.

/* eslint-disable @typescript-eslint/no-explicit-any */

type Listener<T> = (e: T) => unknown;

export class Disposable {
  static from(...items: Array<{ dispose(): unknown }>): Disposable {
    return new Disposable(() => {
      for (const i of items) i.dispose();
    });
  }

  constructor(private readonly fn: () => unknown) {}

  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private readonly listeners = new Set<Listener<T>>();

  readonly event = (listener: Listener<T>, thisArg?: unknown, disposables?: Disposable[]): Disposable => {
    const fn: Listener<T> = (e) => listener.call(thisArg, e);
    this.listeners.add(fn);
    const d = new Disposable(() => this.listeners.delete(fn));
    disposables?.push(d);
    return d;
  };

  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }

  dispose(): void {
    this.listeners.clear();
  }
}

export class CancellationError extends Error {
  constructor() {
    super("Canceled");
    this.name = "Canceled";
  }
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };

  cancel(): void {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}

  static file(path: string): Uri {
    return new Uri("file", path);
  }

  static parse(value: string): Uri {
    const i = value.indexOf(":");
    return i < 0 ? new Uri("file", value) : new Uri(value.slice(0, i), value.slice(i + 1).replace(/^\/\//, ""));
  }

  get fsPath(): string {
    return this.path;
  }

  toString(): string {
    return this.scheme === "file" ? `file://${this.path}` : `${this.scheme}:${this.path}`;
  }
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: string;
  iconPath?: ThemeIcon;
  contextValue?: string;
  command?: { command: string; title: string; arguments?: unknown[] };

  constructor(
    readonly label: string,
    readonly collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

export enum LogLevel {
  Off = 0,
  Trace = 1,
  Debug = 2,
  Info = 3,
  Warning = 4,
  Error = 5,
}

// Base classes vscode-languageclient extends when it loads (its protocol converters).
export class CallHierarchyItem {}
export class CodeAction {}
export class CodeLens {}
export class CompletionItem {}
export class Diagnostic {}
export class DocumentLink {}
export class InlayHint {}
export class SymbolInformation {}
export class TypeHierarchyItem {}

export class CodeActionKind {
  static readonly Empty = new CodeActionKind("");
  static readonly QuickFix = new CodeActionKind("quickfix");
  static readonly Refactor = new CodeActionKind("refactor");
  static readonly RefactorExtract = new CodeActionKind("refactor.extract");
  static readonly RefactorInline = new CodeActionKind("refactor.inline");
  static readonly RefactorMove = new CodeActionKind("refactor.move");
  static readonly RefactorRewrite = new CodeActionKind("refactor.rewrite");
  static readonly Source = new CodeActionKind("source");
  static readonly SourceOrganizeImports = new CodeActionKind("source.organizeImports");
  static readonly SourceFixAll = new CodeActionKind("source.fixAll");
  static readonly Notebook = new CodeActionKind("notebook");

  constructor(readonly value: string) {}

  append(part: string): CodeActionKind {
    return new CodeActionKind(this.value ? `${this.value}.${part}` : part);
  }
}

export const version = "1.91.0";

// ---- what the tests read and queue --------------------------------------------------------------

export class FakeOutputChannel {
  readonly lines: string[] = [];
  visible = false;
  disposed = false;
  logLevel = LogLevel.Trace;
  private readonly levelEmitter = new EventEmitter<LogLevel>();
  readonly onDidChangeLogLevel = this.levelEmitter.event;

  constructor(readonly name: string) {}

  get text(): string {
    return this.lines.join("\n");
  }

  append(value: string): void {
    this.lines.push(value);
  }

  appendLine(value: string): void {
    this.lines.push(value);
  }

  replace(value: string): void {
    this.lines.length = 0;
    this.lines.push(value);
  }

  clear(): void {
    this.lines.length = 0;
  }

  show(): void {
    this.visible = true;
  }

  hide(): void {
    this.visible = false;
  }

  dispose(): void {
    this.disposed = true;
  }

  trace(message: string, ...args: unknown[]): void {
    this.log("trace", message, args);
  }

  debug(message: string, ...args: unknown[]): void {
    this.log("debug", message, args);
  }

  info(message: string, ...args: unknown[]): void {
    this.log("info", message, args);
  }

  warn(message: string, ...args: unknown[]): void {
    this.log("warning", message, args);
  }

  error(message: string | Error, ...args: unknown[]): void {
    this.log("error", message instanceof Error ? message.message : message, args);
  }

  private log(level: string, message: string, args: unknown[]): void {
    const extra = args.map((a) => (typeof a === "string" ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(" ");
    this.lines.push(`[${level}] ${message}${extra ? ` ${extra}` : ""}`);
  }
}

export class FakeStatusBarItem {
  text = "";
  tooltip: string | undefined;
  command: string | undefined;
  name: string | undefined;
  backgroundColor: ThemeColor | undefined;
  visible = false;
  disposed = false;

  constructor(
    readonly alignment: StatusBarAlignment,
    readonly priority: number | undefined,
  ) {}

  show(): void {
    this.visible = true;
  }

  hide(): void {
    this.visible = false;
  }

  dispose(): void {
    this.disposed = true;
  }
}

export interface TreeDataProvider {
  getTreeItem(element: unknown): TreeItem | Promise<TreeItem>;
  getChildren(element?: unknown): unknown[] | Promise<unknown[]> | undefined;
  getParent?(element: unknown): unknown;
  onDidChangeTreeData?: (listener: Listener<unknown>) => Disposable;
}

export class FakeTreeView {
  readonly reveals: Array<{ element: unknown; options: unknown; path: unknown[] }> = [];
  changes = 0;
  disposed = false;
  private readonly subscription: Disposable | undefined;

  constructor(
    readonly id: string,
    readonly provider: TreeDataProvider,
  ) {
    this.subscription = provider.onDidChangeTreeData?.(() => {
      this.changes++;
    });
  }

  /** Like VS Code, reveal needs `getParent` and walks up to the root. */
  async reveal(element: unknown, options?: unknown): Promise<void> {
    if (!this.provider.getParent) throw new Error("reveal needs TreeDataProvider.getParent");
    const path: unknown[] = [];
    let at: unknown = element;
    while (at !== undefined && at !== null) {
      path.unshift(at);
      at = await this.provider.getParent(at);
    }
    this.reveals.push({ element, options, path });
  }

  dispose(): void {
    this.disposed = true;
    this.subscription?.dispose();
  }
}

export interface ProgressRecord {
  options: { location: ProgressLocation; title?: string; cancellable?: boolean };
  reports: Array<{ message?: string; increment?: number }>;
  state: "running" | "done" | "failed";
}

export interface ShownMessage {
  level: "info" | "warning" | "error";
  message: string;
  items: unknown[];
  options?: unknown;
}

export interface OpenedDocument {
  uri: Uri;
  languageId: string;
  content: string;
  getText(): string;
}

interface ConfigurationChange {
  affectsConfiguration(section: string): boolean;
}

class StubState {
  config = new Map<string, unknown>();
  workspaceFolders: Array<{ uri: Uri; name: string; index: number }> | undefined;
  readonly commands = new Map<string, (...args: any[]) => unknown>();
  readonly executed: Array<{ command: string; args: unknown[] }> = [];
  readonly messages: ShownMessage[] = [];
  readonly inputBoxes: Array<Record<string, unknown>> = [];
  readonly quickPicks: Array<{ items: any[]; options: unknown }> = [];
  /** Answers for showInputBox, in order (undefined: the user pressed Escape). */
  readonly inputAnswers: Array<string | undefined> = [];
  /** Answers for showQuickPick: a function choosing among the items. */
  readonly quickPickAnswers: Array<(items: any[]) => any> = [];
  /** Answers for modal showWarningMessage questions (the button's title). */
  readonly warningAnswers: Array<string | undefined> = [];
  /** Clicks on other messages: the first whose `match` fits the message is used up, its answer the button's title. */
  readonly messageAnswers: Array<{ match: RegExp; answer: () => string | undefined }> = [];
  readonly outputChannels: FakeOutputChannel[] = [];
  readonly statusBarItems: FakeStatusBarItem[] = [];
  readonly treeViews: FakeTreeView[] = [];
  readonly progress: ProgressRecord[] = [];
  readonly documents: OpenedDocument[] = [];
  readonly shownDocuments: Array<{ document: OpenedDocument; options: unknown }> = [];
  readonly configEmitter = new EventEmitter<ConfigurationChange>();
  readonly foldersEmitter = new EventEmitter<unknown>();

  /** Forgets everything recorded (not the registered commands: disposing them does that). */
  reset(): void {
    this.config.clear();
    this.workspaceFolders = undefined;
    for (const a of [
      this.executed,
      this.messages,
      this.inputBoxes,
      this.quickPicks,
      this.inputAnswers,
      this.quickPickAnswers,
      this.warningAnswers,
      this.messageAnswers,
      this.outputChannels,
      this.statusBarItems,
      this.treeViews,
      this.progress,
      this.documents,
      this.shownDocuments,
    ] as unknown[][]) {
      a.length = 0;
    }
  }

  setFolder(path: string | undefined): void {
    this.workspaceFolders = path === undefined ? undefined : [{ uri: Uri.file(path), name: path.split("/").at(-1) ?? path, index: 0 }];
  }

  /** Changes settings and tells the listeners, as VS Code does. */
  setConfig(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) this.config.delete(k);
      else this.config.set(k, v);
    }
    const keys = Object.keys(values);
    this.configEmitter.fire({ affectsConfiguration: (section) => keys.some((k) => k === section || k.startsWith(`${section}.`)) });
  }

  errors(): string[] {
    return this.messages.filter((m) => m.level === "error").map((m) => m.message);
  }

  infos(): string[] {
    return this.messages.filter((m) => m.level === "info").map((m) => m.message);
  }
}

export const stub = new StubState();

function show(level: ShownMessage["level"], message: string, rest: unknown[]): Promise<unknown> {
  let options: unknown;
  let items = rest;
  const first = rest[0];
  if (first && typeof first === "object" && !("title" in first)) {
    options = first;
    items = rest.slice(1);
  }
  stub.messages.push({ level, message, items, options });
  const button = (answer: string | undefined) => (answer === undefined ? undefined : items.find((i) => (typeof i === "string" ? i : (i as { title: string }).title) === answer));
  if (level === "warning" && (options as { modal?: boolean } | undefined)?.modal) {
    return Promise.resolve(button(stub.warningAnswers.shift()));
  }
  const click = stub.messageAnswers.findIndex((a) => a.match.test(message));
  if (click >= 0) return Promise.resolve(button(stub.messageAnswers.splice(click, 1)[0]?.answer()));
  return Promise.resolve(undefined);
}

export const window = {
  createOutputChannel(name: string, _options?: unknown): FakeOutputChannel {
    const c = new FakeOutputChannel(name);
    stub.outputChannels.push(c);
    return c;
  },
  createStatusBarItem(alignment?: StatusBarAlignment, priority?: number): FakeStatusBarItem {
    const item = new FakeStatusBarItem(alignment ?? StatusBarAlignment.Left, priority);
    stub.statusBarItems.push(item);
    return item;
  },
  createTreeView(id: string, options: { treeDataProvider: TreeDataProvider }): FakeTreeView {
    const view = new FakeTreeView(id, options.treeDataProvider);
    stub.treeViews.push(view);
    return view;
  },
  showInformationMessage: (message: string, ...rest: unknown[]) => show("info", message, rest),
  showWarningMessage: (message: string, ...rest: unknown[]) => show("warning", message, rest),
  showErrorMessage: (message: string, ...rest: unknown[]) => show("error", message, rest),
  showInputBox(options: Record<string, unknown> = {}): Promise<string | undefined> {
    stub.inputBoxes.push(options);
    const answer = stub.inputAnswers.shift();
    const validate = options.validateInput as ((v: string) => unknown) | undefined;
    if (answer !== undefined && validate && validate(answer)) return Promise.resolve(undefined);
    return Promise.resolve(answer);
  },
  async showQuickPick(items: unknown[] | Promise<unknown[]>, options?: unknown): Promise<unknown> {
    const list = await items;
    stub.quickPicks.push({ items: list, options });
    const choose = stub.quickPickAnswers.shift();
    return choose ? choose(list) : undefined;
  },
  withProgress<R>(
    options: ProgressRecord["options"],
    task: (progress: { report(v: { message?: string; increment?: number }): void }, token: CancellationTokenSource["token"]) => Promise<R>,
  ): Promise<R> {
    const record: ProgressRecord = { options, reports: [], state: "running" };
    stub.progress.push(record);
    const source = new CancellationTokenSource();
    const p = task({ report: (v) => record.reports.push(v) }, source.token);
    p.then(
      () => {
        record.state = "done";
      },
      () => {
        record.state = "failed";
      },
    );
    return p;
  },
  showTextDocument(document: OpenedDocument, options?: unknown): Promise<unknown> {
    stub.shownDocuments.push({ document, options });
    return Promise.resolve({ document });
  },
};

function noEvent(): Disposable {
  return new Disposable(() => undefined);
}

let untitled = 0;

export const workspace = {
  get workspaceFolders() {
    return stub.workspaceFolders;
  },
  getConfiguration(section?: string) {
    const full = (key: string): string => (section ? `${section}.${key}` : key);
    return {
      get<T>(key: string, defaultValue?: T): T | undefined {
        const k = full(key);
        return stub.config.has(k) ? (stub.config.get(k) as T) : defaultValue;
      },
      update(key: string, value: unknown): Promise<void> {
        stub.setConfig({ [full(key)]: value });
        return Promise.resolve();
      },
    };
  },
  onDidChangeConfiguration: stub.configEmitter.event,
  onDidChangeWorkspaceFolders: stub.foldersEmitter.event,
  openTextDocument(options: { language?: string; content?: string }): Promise<OpenedDocument> {
    const content = options.content ?? "";
    const doc: OpenedDocument = { uri: Uri.parse(`untitled:Untitled-${++untitled}`), languageId: options.language ?? "plaintext", content, getText: () => content };
    stub.documents.push(doc);
    return Promise.resolve(doc);
  },
  onDidOpenTextDocument: noEvent,
  onDidCloseTextDocument: noEvent,
  onDidChangeTextDocument: noEvent,
  onDidSaveTextDocument: noEvent,
  onWillSaveTextDocument: noEvent,
  onDidCreateFiles: noEvent,
  onDidDeleteFiles: noEvent,
  onDidRenameFiles: noEvent,
  onWillCreateFiles: noEvent,
  onWillDeleteFiles: noEvent,
  onWillRenameFiles: noEvent,
};

export const commands = {
  registerCommand(command: string, callback: (...args: any[]) => unknown): Disposable {
    if (stub.commands.has(command)) throw new Error(`command '${command}' already exists`);
    stub.commands.set(command, callback);
    return new Disposable(() => stub.commands.delete(command));
  },
  executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
    stub.executed.push({ command, args });
    const fn = stub.commands.get(command);
    if (!fn) return Promise.resolve(undefined);
    try {
      return Promise.resolve(fn(...args));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  },
};

export const env = {
  language: "en",
  appName: "Visual Studio Code (stub)",
};
