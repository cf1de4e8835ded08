// Where the server binary is: the plugin option `bin`, then $OPENCODE_ORCHESTRATOR_BIN, then
// `opencode-orchestrator` on PATH, then cargo's install folder (scripts/install.sh puts it there
// and it is often missing from the PATH of a desktop session).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const BINARY_NAME = "opencode-orchestrator";

export const INSTALL_HINT =
  "Install it from a checkout of opencode-orchestrator with `./scripts/install.sh` (or " +
  "`cargo install --locked --path .`), then restart OpenCode. If it is installed somewhere " +
  "else, set the plugin option `bin` or the environment variable OPENCODE_ORCHESTRATOR_BIN to its path.";

export type BinaryLookup =
  | { ok: true; path: string; source: "option" | "env" | "path" | "cargo" }
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

function explicit(value: string, what: string, base: string, env: NodeJS.ProcessEnv): { file: string } | { error: string } {
  // A bare name is looked up on PATH; anything with a slash is a path (relative to the project).
  if (!value.includes("/") && !value.includes(path.sep)) {
    const found = onPath(value, env);
    return found ? { file: found } : { error: `${what} is \`${value}\`, which is not on PATH` };
  }
  const file = path.resolve(base, value.startsWith("~/") ? path.join(os.homedir(), value.slice(2)) : value);
  return isExecutable(file) ? { file } : { error: `${what} is \`${value}\`, but ${file} is not an executable file` };
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

/** Finds the server binary. `base` resolves a relative `bin` (the project directory). */
export function findBinary(option: unknown, env: NodeJS.ProcessEnv, base: string): BinaryLookup {
  if (typeof option === "string" && option.trim() !== "") {
    const r = explicit(option.trim(), "the plugin option `bin`", base, env);
    return "file" in r ? { ok: true, path: r.file, source: "option" } : { ok: false, message: `${r.error}. ${INSTALL_HINT}` };
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
