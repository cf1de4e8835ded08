// Where the server binary is: the setting `opencodeOrchestrator.serverPath` when it is a path or
// a name other than the default; else $OPENCODE_ORCHESTRATOR_BIN, `opencode-orchestrator` on
// PATH, then cargo's install folder (scripts/install.sh puts it there and it is often missing
// from the PATH of a desktop session).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const BINARY_NAME = "opencode-orchestrator";

export const INSTALL_HINT =
  "Install it from a checkout of opencode-orchestrator with `./scripts/install.sh` (or " +
  "`cargo install --locked --path .`), or set `opencodeOrchestrator.serverPath` to the binary.";

export type BinaryLookup =
  | { ok: true; path: string; source: "setting" | "env" | "path" | "cargo" }
  | { ok: false; message: string };

function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

function cargoBin(env: NodeJS.ProcessEnv): string | undefined {
  const roots = [env.CARGO_INSTALL_ROOT, env.CARGO_HOME, path.join(os.homedir(), ".cargo")];
  for (const root of roots) {
    if (!root) continue;
    const file = path.join(root, "bin", BINARY_NAME);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

function explicit(value: string, what: string, base: string | undefined, env: NodeJS.ProcessEnv): { file: string } | { error: string } {
  // A bare name is looked up on PATH; anything with a slash is a path (relative to the workspace).
  if (!value.includes("/") && !value.includes(path.sep)) {
    const found = onPath(value, env);
    return found ? { file: found } : { error: `${what} is \`${value}\`, which is not on PATH` };
  }
  const expanded = value.startsWith("~/") ? path.join(os.homedir(), value.slice(2)) : value;
  const file = path.resolve(base ?? process.cwd(), expanded);
  return isExecutable(file) ? { file } : { error: `${what} is \`${value}\`, but ${file} is not an executable file` };
}

/** Finds the server binary. `base` resolves a relative `serverPath` (the workspace folder). */
export function findBinary(setting: string | undefined, env: NodeJS.ProcessEnv, base: string | undefined): BinaryLookup {
  const value = setting?.trim() ?? "";
  if (value !== "" && value !== BINARY_NAME) {
    const r = explicit(value, "`opencodeOrchestrator.serverPath`", base, env);
    return "file" in r ? { ok: true, path: r.file, source: "setting" } : { ok: false, message: `${r.error}. ${INSTALL_HINT}` };
  }
  const fromEnv = env.OPENCODE_ORCHESTRATOR_BIN?.trim();
  if (fromEnv) {
    const r = explicit(fromEnv, "OPENCODE_ORCHESTRATOR_BIN", base, env);
    return "file" in r ? { ok: true, path: r.file, source: "env" } : { ok: false, message: `${r.error}. ${INSTALL_HINT}` };
  }
  const found = onPath(BINARY_NAME, env);
  if (found) return { ok: true, path: found, source: "path" };
  const cargo = cargoBin(env);
  if (cargo) return { ok: true, path: cargo, source: "cargo" };
  return {
    ok: false,
    message: `The opencode-orchestrator server is not installed (\`${BINARY_NAME}\` is not on PATH nor in ~/.cargo/bin). ${INSTALL_HINT}`,
  };
}
