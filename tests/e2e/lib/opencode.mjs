// Start and stop a REAL OpenCode (npm `opencode-ai`, pinned in ../package.json),
// offline and isolated, talking to the scripted model of ./fake-model.mjs.
//
//   const model = await startFakeModel();
//   const oc = await startOpencodeServe({ modelPort: model.port });
//   const s = (await oc.client.session.create({ body: { title: "t" } })).data;
//   ...
//   await oc.stop(); await model.close();
//
// Every OpenCode process runs in its own process group together with a tiny
// shell watchdog that kills the group if this Node process disappears, so no
// OpenCode survives a crashed or killed test file. stop() kills the group.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createOpencodeClient } from "@opencode-ai/sdk";

export const HARNESS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const NODE_MODULES = path.join(HARNESS_DIR, "node_modules");
export const OPENCODE_BIN = path.join(NODE_MODULES, "opencode-ai", "bin", "opencode.exe");
export const OPENCODE_VERSION = JSON.parse(
  fs.readFileSync(path.join(NODE_MODULES, "opencode-ai", "package.json"), "utf8"),
).version;
const PLUGIN_VERSION = JSON.parse(
  fs.readFileSync(path.join(NODE_MODULES, "@opencode-ai", "plugin", "package.json"), "utf8"),
).version;

/** Environment that keeps OpenCode offline (besides the fake model) and quiet. */
export const OFFLINE_ENV = Object.freeze({
  OPENCODE_DISABLE_MODELS_FETCH: "1",
  OPENCODE_DISABLE_AUTOUPDATE: "1",
  OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
  OPENCODE_DISABLE_SHARE: "1",
  OPENCODE_DISABLE_CLAUDE_CODE: "1",
  OPENCODE_DISABLE_EXTERNAL_SKILLS: "1",
  npm_config_fetch_retries: "0",
  // Should OpenCode ever decide to npm-install anyway, fail fast from the
  // cache instead of touching a registry.
  npm_config_offline: "true",
});

// Variables of the calling environment that must not leak into OpenCode.
const SCRUB = /^(OPENCODE_|XDG_|npm_|NPM_|NODE_OPTIONS$|BUN_|ANTHROPIC_|OPENAI_|GEMINI_|GOOGLE_|AWS_|AZURE_|GROQ_|MISTRAL_|OPENROUTER_|XAI_|DEEPSEEK_|HF_|GITHUB_TOKEN$|GH_TOKEN$)/;

// ---------------------------------------------------------------------------
// process bookkeeping: kill every live group on exit, whatever happens
// ---------------------------------------------------------------------------

const live = new Map(); // pgid -> description

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

let hooksInstalled = false;
function installExitHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const pgid of live.keys()) killGroup(pgid, "SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(sig, () => {
      for (const pgid of live.keys()) killGroup(pgid, "SIGKILL");
      process.exit(128 + (os.constants.signals[sig] ?? 1));
    });
  }
}

// The command is run as `sh -c SCRIPT <node pid> <bin> <args...>`: a watchdog
// subshell (same process group) polls the Node process once a second; once it
// is gone it SIGKILLs OpenCode ($$: the shell that exec'd into it), removes
// the instance's temp root (OC_E2E_TMP_ROOT) and SIGKILLs the rest of the group.
const WATCHDOG =
  '( while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -KILL $$ 2>/dev/null; sleep 0.3; ' +
  'case "$OC_E2E_TMP_ROOT" in */oc-e2e-*) rm -rf "$OC_E2E_TMP_ROOT";; esac; kill -KILL 0 ) ' +
  '</dev/null >/dev/null 2>&1 & exec "$@"';

function spawnGroup(bin, args, { cwd, env }) {
  installExitHooks();
  const child = spawn("/bin/sh", ["-c", WATCHDOG, String(process.pid), bin, ...args], {
    cwd,
    env,
    detached: true, // new process group, pgid = child.pid
    stdio: ["pipe", "pipe", "pipe"],
  });
  live.set(child.pid, bin);
  child.exitPromise = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (err) => resolve({ code: null, signal: null, error: err }));
  });
  return child;
}

async function stopGroup(child, { graceMs = 3000 } = {}) {
  const pgid = child.pid;
  if (pgid == null) return;
  const exited = child.exitCode !== null || child.signalCode !== null;
  if (!exited) killGroup(pgid, "SIGTERM");
  const res = await within(child.exitPromise, graceMs);
  // Always SIGKILL the group: the watchdog (and anything OpenCode spawned)
  // must go too, even when OpenCode itself exited on SIGTERM.
  killGroup(pgid, "SIGKILL");
  if (res === TIMEOUT) await within(child.exitPromise, 2000);
  live.delete(pgid);
  for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
}

// ---------------------------------------------------------------------------
// small helpers
// ---------------------------------------------------------------------------

export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

const TIMEOUT = Symbol("timeout");
/** Await p for at most ms; resolves TIMEOUT_VALUE (a symbol) on timeout. Clears its timer. */
async function within(p, ms) {
  let timer;
  try {
    return await Promise.race([p, new Promise((r) => (timer = setTimeout(() => r(TIMEOUT), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Run fn until it returns a truthy value (returned), or throw after timeoutMs. */
export async function waitUntil(fn, { timeoutMs = 15000, intervalMs = 100, what = "condition" } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    await delay(intervalMs);
  }
}

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars of `b` replace those of `a`. */
export function deepMerge(a, b) {
  if (!isPlainObject(a) || !isPlainObject(b)) return b === undefined ? a : b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in a ? deepMerge(a[k], v) : v;
  return out;
}

class RingLog {
  constructor(max = 4 * 1024 * 1024) {
    this.max = max;
    this.parts = [];
    this.size = 0;
  }
  push(s) {
    this.parts.push(s);
    this.size += s.length;
    while (this.size > this.max && this.parts.length > 1) this.size -= this.parts.shift().length;
  }
  toString() {
    return this.parts.join("");
  }
}

function pluginSpec(p) {
  if (Array.isArray(p)) return [pluginSpec(p[0]), p[1]];
  if (typeof p !== "string") throw new TypeError("plugin must be a path, a file:// URL, an npm name or [spec, options]");
  if (p.startsWith("file://")) return p;
  if (path.isAbsolute(p)) return pathToFileURL(p).href;
  return p; // npm name or ./relative (resolved by OpenCode)
}

/**
 * The OpenCode config the harness uses: the `fake` provider pointed at the
 * scripted model, as default and small model, plus `plugins` and `extra`.
 */
export function fakeModelConfig(modelPort, { plugins = [], extra = {} } = {}) {
  const base = {
    $schema: "https://opencode.ai/config.json",
    autoupdate: false,
    share: "disabled",
    provider: {
      fake: {
        npm: "@ai-sdk/openai-compatible",
        name: "Fake",
        options: { baseURL: `http://127.0.0.1:${modelPort}/v1`, apiKey: "fake-key" },
        models: { "fake-model": { name: "Fake Model", tool_call: true, limit: { context: 200000, output: 8192 } } },
      },
    },
    model: "fake/fake-model",
    small_model: "fake/fake-model",
  };
  if (plugins.length) base.plugin = plugins.map(pluginSpec);
  const merged = deepMerge(base, extra);
  if (plugins.length && Array.isArray(extra.plugin)) merged.plugin = [...base.plugin, ...extra.plugin.map(pluginSpec)];
  return merged;
}

/**
 * Make `dir/node_modules` a farm of symlinks to the harness's own packages, so
 * (1) files under `dir` can `import "@opencode-ai/plugin"` and (2) together
 * with a package-lock.json naming @opencode-ai/plugin, OpenCode's start-up
 * check finds the config folder "installed" and runs no npm install.
 * Symlinking each package (not node_modules itself) means that even an
 * unexpected install in `dir` could only replace links, never prune the
 * harness's node_modules.
 */
export function linkNodeModules(dir) {
  const nm = path.join(dir, "node_modules");
  fs.mkdirSync(nm, { recursive: true });
  for (const name of fs.readdirSync(NODE_MODULES)) {
    if (name.startsWith(".")) continue; // .bin, .package-lock.json
    if (/^opencode-(ai|linux|darwin|windows)/.test(name)) continue; // the 185 MB binaries
    const dst = path.join(nm, name);
    if (!fs.existsSync(dst)) fs.symlinkSync(path.join(NODE_MODULES, name), dst);
  }
  return nm;
}

/**
 * Pre-fill an OpenCode config folder (`~/.config/opencode` or `<project>/.opencode`)
 * so OpenCode's hidden `npm install @opencode-ai/plugin` is skipped: it only
 * installs when `node_modules` is missing or when a dependency of package.json
 * (plus @opencode-ai/plugin) is missing from package-lock.json's root entry.
 * Existing package.json/package-lock.json files are left alone.
 */
export function prefillConfigDir(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const pkgPath = path.join(dir, "package.json");
  const lockPath = path.join(dir, "package-lock.json");
  if (!fs.existsSync(pkgPath)) {
    fs.writeFileSync(pkgPath, JSON.stringify({ dependencies: { "@opencode-ai/plugin": PLUGIN_VERSION } }, null, 2) + "\n");
  }
  if (!fs.existsSync(lockPath)) {
    const deps = JSON.parse(fs.readFileSync(pkgPath, "utf8")).dependencies ?? {};
    const all = { "@opencode-ai/plugin": PLUGIN_VERSION, ...deps };
    const lock = {
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": { dependencies: all },
        "node_modules/@opencode-ai/plugin": { version: PLUGIN_VERSION },
      },
    };
    fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + "\n");
  }
  linkNodeModules(dir);
}

/**
 * A fresh temp dir whose node_modules links to the harness's packages: plugin
 * files written there can `import { tool } from "@opencode-ai/plugin"`.
 */
export function makePluginDir(prefix = "oc-e2e-plugins-") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  linkNodeModules(dir);
  return dir;
}

/** Write `source` as `<dir>/<name>` (dir: a new makePluginDir()) and return its absolute path. */
export function writePlugin(source, { dir = makePluginDir(), name = "plugin.mjs" } = {}) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

/**
 * Build the isolated file system and environment for one OpenCode process.
 * Returns { root, home, dir, env, config }.
 */
export async function prepare({ modelPort, projectDir, plugins = [], config = {}, env = {}, git = false, files = {}, prefill = true }) {
  if (!modelPort) throw new Error("modelPort is required (the fake model's port)");
  if (!fs.existsSync(OPENCODE_BIN)) {
    throw new Error(`${OPENCODE_BIN} is missing: run \`npm ci\` in ${HARNESS_DIR}`);
  }
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "oc-e2e-"));
  const home = path.join(root, "home");
  const xdg = {
    XDG_CONFIG_HOME: path.join(home, ".config"),
    XDG_DATA_HOME: path.join(home, ".local", "share"),
    XDG_CACHE_HOME: path.join(home, ".cache"),
    XDG_STATE_HOME: path.join(home, ".local", "state"),
  };
  for (const d of Object.values(xdg)) fs.mkdirSync(d, { recursive: true });
  const dir = projectDir ? path.resolve(projectDir) : path.join(root, "project");
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const f = path.join(dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, content);
  }
  if (git && !fs.existsSync(path.join(dir, ".git"))) {
    const g = (...a) => spawnSync("git", a, { cwd: dir, stdio: "ignore", env: { ...process.env, HOME: home } });
    g("init", "-q");
    g("-c", "user.email=e2e@example.invalid", "-c", "user.name=e2e", "commit", "-q", "--allow-empty", "-m", "init");
  }
  if (prefill) {
    prefillConfigDir(path.join(xdg.XDG_CONFIG_HOME, "opencode"));
    prefillConfigDir(path.join(dir, ".opencode"));
  }

  const cfg = fakeModelConfig(modelPort, { plugins, extra: config });
  const base = {};
  for (const [k, v] of Object.entries(process.env)) if (!SCRUB.test(k)) base[k] = v;
  const fullEnv = {
    ...base,
    HOME: home,
    ...xdg,
    TMPDIR: process.env.TMPDIR ?? os.tmpdir(),
    ...OFFLINE_ENV,
    OPENCODE_CONFIG_CONTENT: JSON.stringify(cfg),
    FAKE_LLM_PORT: String(modelPort),
    ...env,
    OC_E2E_TMP_ROOT: root,
  };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined || v === null) delete fullEnv[k];
  return { root, home, dir, env: fullEnv, config: cfg, ownsProject: !projectDir };
}

async function cleanupDirs(prep) {
  if (process.env.OC_E2E_KEEP) return;
  await fsp.rm(prep.root, { recursive: true, force: true }).catch(() => {});
  if (!prep.ownsProject) {
    // we pre-filled <project>/.opencode: remove only what we added
    const oc = path.join(prep.dir, ".opencode");
    await fsp.rm(path.join(oc, "node_modules"), { recursive: true, force: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// SSE on GET /event
// ---------------------------------------------------------------------------

/**
 * Subscribe to `GET <url>/event` (optionally for `directory`). Records every
 * event from the moment the stream is open (`server.connected` received).
 * Returns { events, waitFor(pred, timeoutMs|{timeoutMs, from}), close(), ready }.
 */
export function openEventStream(url, { directory, onEvent } = {}) {
  const ac = new AbortController();
  const events = [];
  const waiters = new Set();
  let closed = false;
  let failure = null;
  const u = new URL("/event", url);
  if (directory) u.searchParams.set("directory", directory);

  const check = () => {
    for (const w of [...waiters]) {
      for (let i = w.from; i < events.length; i++) {
        let ok = false;
        try {
          ok = w.pred(events[i]);
        } catch {}
        if (ok) {
          waiters.delete(w);
          clearTimeout(w.timer);
          w.resolve(events[i]);
          break;
        }
      }
    }
  };
  const failAll = (err) => {
    failure = err;
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    waiters.clear();
  };

  let resolveReady, rejectReady;
  const ready = new Promise((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => {});
  const readyTimer = setTimeout(() => rejectReady(new Error(`no server.connected on ${u} within 10 s`)), 10000);

  (async () => {
    try {
      const res = await fetch(u, { signal: ac.signal, headers: { accept: "text/event-stream" } });
      if (!res.ok) throw new Error(`GET ${u} -> ${res.status}`);
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let idx;
        while ((idx = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, idx);
          buf = buf.slice(idx).replace(/^\r?\n\r?\n/, "");
          const data = block
            .split(/\r?\n/)
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).replace(/^ /, ""))
            .join("\n");
          if (!data) continue;
          let ev;
          try {
            ev = JSON.parse(data);
          } catch {
            continue;
          }
          ev.receivedAt = Date.now();
          events.push(ev);
          if (ev.type === "server.connected") {
            clearTimeout(readyTimer);
            resolveReady();
          }
          try {
            onEvent?.(ev);
          } catch {}
          check();
        }
      }
      if (!closed) failAll(new Error(`event stream ${u} ended`));
    } catch (e) {
      if (!closed) failAll(new Error(`event stream ${u} failed: ${e.message}`));
      clearTimeout(readyTimer);
      rejectReady(e);
    }
  })();

  return {
    events,
    ready,
    /**
     * Resolve with the first event (index >= from; default 0 = also already
     * recorded ones) satisfying pred, or reject after timeoutMs.
     */
    waitFor(pred, opts = {}) {
      const { timeoutMs = 30000, from = 0 } = typeof opts === "number" ? { timeoutMs: opts } : opts;
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const w = { pred, from, resolve, reject };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no matching event within ${timeoutMs} ms (${events.length} recorded; last: ${events.slice(-5).map((e) => e.type).join(", ")})`));
        }, timeoutMs);
        waiters.add(w);
        check();
      });
    },
    close() {
      closed = true;
      clearTimeout(readyTimer);
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error("event stream closed"));
      }
      waiters.clear();
      ac.abort();
    },
  };
}

/**
 * Connect to `GET <url>/event` and resolve with the first event satisfying
 * predicate that arrives after connecting; reject after timeoutMs. For events
 * that may fire before you could subscribe, use the recorder of a
 * startOpencodeServe() instance (`oc.waitForEvent`) instead.
 */
export async function waitForEvent(url, predicate, timeoutMs = 30000, { directory } = {}) {
  const s = openEventStream(url, { directory });
  try {
    if ((await within(s.ready, timeoutMs)) === TIMEOUT) throw new Error(`event stream ${url}/event not ready`);
    return await s.waitFor(predicate, { timeoutMs });
  } finally {
    s.close();
  }
}

/** Predicate helpers for events. */
export const ev = {
  type: (t) => (e) => e.type === t,
  idle: (sessionID) => (e) => e.type === "session.idle" && e.properties?.sessionID === sessionID,
  error: (sessionID) => (e) => e.type === "session.error" && e.properties?.sessionID === sessionID,
  status: (sessionID, type) => (e) =>
    e.type === "session.status" && e.properties?.sessionID === sessionID && e.properties?.status?.type === type,
  forSession: (sessionID) => (e) => (e.properties?.sessionID ?? e.properties?.info?.sessionID) === sessionID,
};

// ---------------------------------------------------------------------------
// SDK helpers
// ---------------------------------------------------------------------------

function unwrap(res, what) {
  if (res?.error !== undefined && res.error !== null) {
    const status = res.response?.status;
    throw new Error(`${what} failed${status ? ` (${status})` : ""}: ${JSON.stringify(res.error)}`);
  }
  return res?.data;
}

/** `GET /session/:id/message` -> [{ info, parts }] (throws on an HTTP error). */
export async function sessionMessages(client, id) {
  return unwrap(await client.session.messages({ path: { id } }), `GET /session/${id}/message`);
}

/** The last assistant message ({ info, parts }) of a message list, or undefined. */
export function lastAssistant(messages) {
  return [...messages].reverse().find((m) => m.info.role === "assistant");
}

/** Concatenated text parts of one message ({ info, parts }). */
export function messageText(message) {
  return (message?.parts ?? [])
    .filter((p) => p.type === "text" && !p.synthetic)
    .map((p) => p.text)
    .join("");
}

/** Tool parts of one message or of a list of messages. */
export function toolParts(messageOrList) {
  const list = Array.isArray(messageOrList) ? messageOrList : [messageOrList];
  return list.flatMap((m) => (m?.parts ?? []).filter((p) => p.type === "tool"));
}

/**
 * A finished assistant message: `time.completed` is set and `finish` is a
 * final reason (anything but "tool-calls"/"unknown"), or it carries an error.
 */
export function isFinishedAssistant(info) {
  if (info?.role !== "assistant") return false;
  if (info.error) return true;
  return !!info.time?.completed && !!info.finish && !["tool-calls", "unknown"].includes(info.finish);
}

// ---------------------------------------------------------------------------
// opencode serve
// ---------------------------------------------------------------------------

/**
 * Start `opencode serve` against the fake model.
 * @param {object} o
 * @param {number} o.modelPort       the fake model's port
 * @param {string} [o.projectDir]    project directory (default: a fresh temp dir)
 * @param {string[]} [o.plugins]     absolute plugin file paths, file:// URLs or [spec, options]
 * @param {object} [o.config]        extra config deep-merged into the generated one
 * @param {object} [o.env]           extra environment (undefined values delete)
 * @param {Record<string,string>} [o.files]  files to write in the project dir first (relative path -> content)
 * @param {boolean} [o.git]          make the project a git repository (default false)
 * @param {number} [o.port]          a fixed port (default: a free one)
 * @param {number} [o.startTimeoutMs]  default 30000
 * @param {string} [o.logLevel]      OpenCode's --log-level (default "INFO"; logs() has them)
 * @param {boolean} [o.recordEvents] keep a /event recorder (default true)
 */
export async function startOpencodeServe(o = {}) {
  const startTimeoutMs = o.startTimeoutMs ?? 30000;
  const prep = await prepare(o);
  const t0 = Date.now();
  let child;
  let port;
  let url;
  const log = new RingLog();
  let lastErr;
  for (let attempt = 0; attempt < 3 && !url; attempt++) {
    port = o.port ?? (await freePort());
    const args = ["serve", "--port", String(port), "--hostname", "127.0.0.1", "--print-logs", "--log-level", o.logLevel ?? "INFO"];
    child = spawnGroup(OPENCODE_BIN, args, { cwd: prep.dir, env: prep.env });
    child.stdin.end();
    let onLine;
    const listening = new Promise((resolve, reject) => {
      let pending = "";
      onLine = (stream) => (buf) => {
        const s = buf.toString("utf8");
        log.push(stream === "err" ? s : s);
        pending += s;
        const m = pending.match(/opencode server listening on (http:\/\/\S+)/);
        if (m) resolve(m[1].replace(/\/$/, ""));
        if (pending.length > 65536) pending = pending.slice(-4096);
      };
      child.stdout.on("data", onLine("out"));
      child.stderr.on("data", onLine("err"));
      child.exitPromise.then(({ code, signal, error }) =>
        reject(new Error(`opencode serve exited before listening (code ${code}, signal ${signal}${error ? `, ${error.message}` : ""})`)),
      );
    });
    let timer;
    try {
      url = await Promise.race([
        listening,
        new Promise((_, rej) => {
          timer = setTimeout(() => rej(new Error(`opencode serve not listening within ${startTimeoutMs} ms`)), startTimeoutMs);
        }),
      ]);
    } catch (e) {
      lastErr = e;
      await stopGroup(child);
      const tail = log.toString().slice(-3000);
      if (!/EADDRINUSE|address already in use/i.test(tail) || o.port) {
        await cleanupDirs(prep);
        throw new Error(`${e.message}\n--- opencode output (tail) ---\n${tail}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }
  if (!url) {
    await cleanupDirs(prep);
    throw lastErr ?? new Error("opencode serve did not start");
  }
  const startMs = Date.now() - t0;
  const client = createOpencodeClient({ baseUrl: url, directory: prep.dir });

  let recorder = null;
  if (o.recordEvents ?? true) {
    recorder = openEventStream(url, { directory: prep.dir });
    try {
      await recorder.ready;
    } catch (e) {
      recorder.close();
      await stopGroup(child);
      await cleanupDirs(prep);
      throw new Error(`could not subscribe to ${url}/event: ${e.message}\n${log.toString().slice(-3000)}`);
    }
  }

  let stopped = null;
  const inst = {
    url,
    port,
    /** The project directory (OpenCode's cwd). */
    dir: prep.dir,
    /** The isolated HOME (XDG_* dirs are under it). */
    home: prep.home,
    /** The temp root holding home/ (and project/ unless projectDir was given). */
    root: prep.root,
    /** The OpenCode config given through OPENCODE_CONFIG_CONTENT. */
    config: prep.config,
    env: prep.env,
    pid: child.pid,
    /** ms from spawn to the "listening" line. */
    startMs,
    /** @opencode-ai/sdk v1 client for url, scoped to dir. */
    client,
    /** Events recorded from GET /event since start (for this project dir). */
    get events() {
      return recorder ? recorder.events : [];
    },
    /** First recorded event (already seen or future, from index `from`) satisfying pred. */
    waitForEvent(pred, opts) {
      if (!recorder) return Promise.reject(new Error("recordEvents was false"));
      return recorder.waitFor(pred, opts);
    },
    /** Everything OpenCode printed (stdout + stderr with --print-logs), bounded to the last 4 MB. */
    logs: () => log.toString(),
    /** Whether the process is still running. */
    alive: () => child.exitCode === null && child.signalCode === null,
    /** Kill the process group, close the event stream, remove temp dirs. Idempotent. */
    stop() {
      if (!stopped) {
        stopped = (async () => {
          recorder?.close();
          await stopGroup(child);
          await cleanupDirs(prep);
        })();
      }
      return stopped;
    },
    async [Symbol.asyncDispose]() {
      await inst.stop();
    },
  };
  return inst;
}

/**
 * Create a session (POST /session), returning the session object.
 * body: { title?, parentID?, ... }
 */
export async function createSession(client, body = {}) {
  return unwrap(await client.session.create({ body }), "POST /session");
}

/**
 * prompt_async a session and wait until it is idle again (session.idle, or the
 * session.error that ends it). Needs an instance from startOpencodeServe.
 *
 * It waits for the session.idle that follows the NEW user message's
 * message.updated event, not just any session.idle: the /event stream lags
 * behind HTTP answers, so a late session.idle of an earlier prompt (e.g. one
 * sent with the synchronous POST /session/:id/message) can arrive after this
 * prompt was sent.
 *
 * body: the prompt body ({ parts, agent?, model?, ... }) or a string (one text part).
 * Returns { messages, assistant (the last assistant message), text (its text),
 *           userMessageID, error?: the session.error event, idle: the session.idle event }.
 */
export async function promptAndWait(oc, sessionID, body, { timeoutMs = 60000 } = {}) {
  const b = typeof body === "string" ? { parts: [{ type: "text", text: body }] } : body;
  const known = new Set((await sessionMessages(oc.client, sessionID)).map((m) => m.info.id));
  const from = oc.events.length;
  const res = await oc.client.session.promptAsync({ path: { id: sessionID }, body: b });
  if (res.error !== undefined && res.error !== null) unwrap(res, `POST /session/${sessionID}/prompt_async`);
  const t0 = Date.now();
  const userEv = await oc.waitForEvent(
    (e) =>
      e.type === "message.updated" &&
      e.properties?.info?.sessionID === sessionID &&
      e.properties.info.role === "user" &&
      !known.has(e.properties.info.id),
    { timeoutMs, from },
  );
  const userIndex = oc.events.indexOf(userEv);
  const idle = await oc.waitForEvent(ev.idle(sessionID), { timeoutMs: Math.max(1, timeoutMs - (Date.now() - t0)), from: userIndex + 1 });
  const idleIndex = oc.events.indexOf(idle);
  const error = oc.events.slice(userIndex + 1, idleIndex + 1).find(ev.error(sessionID));
  const messages = await sessionMessages(oc.client, sessionID);
  const assistant = lastAssistant(messages);
  return { messages, assistant, text: messageText(assistant), userMessageID: userEv.properties.info.id, error, idle };
}

// ---------------------------------------------------------------------------
// opencode run
// ---------------------------------------------------------------------------

/**
 * Run `opencode run` once, the prompt given on stdin (kept exact).
 * @param {object} o  same as startOpencodeServe plus:
 * @param {string} o.prompt
 * @param {string[]} [o.args]   extra CLI args (e.g. ["--format", "json"], ["--agent", "plan"])
 * @param {number} [o.timeoutMs]  default 60000; the process group is killed after it
 * Returns { code, signal, stdout, stderr, timedOut, durationMs, dir, home }.
 */
export async function runOpencode(o = {}) {
  if (typeof o.prompt !== "string") throw new Error("prompt (string) is required");
  const timeoutMs = o.timeoutMs ?? 60000;
  const prep = await prepare(o);
  const t0 = Date.now();
  const args = ["run", ...(o.args ?? [])];
  const child = spawnGroup(OPENCODE_BIN, args, { cwd: prep.dir, env: prep.env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b) => (stdout += b.toString("utf8")));
  child.stderr.on("data", (b) => (stderr += b.toString("utf8")));
  child.stdin.on("error", () => {});
  child.stdin.end(o.prompt);
  let timedOut = false;
  let timer;
  const res = await Promise.race([
    child.exitPromise,
    new Promise((r) => {
      timer = setTimeout(() => {
        timedOut = true;
        r(null);
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  // let the pipes drain briefly, then make sure the whole group is gone
  if (res && !child.stdout.closed) await within(new Promise((r) => child.stdout.once("close", r)), 1000);
  await stopGroup(child, { graceMs: res ? 0 : 2000 });
  const final = res ?? { code: null, signal: "SIGKILL" };
  await cleanupDirs(prep);
  return {
    code: timedOut ? null : final.code,
    signal: timedOut ? "SIGKILL" : final.signal,
    stdout,
    stderr,
    timedOut,
    durationMs: Date.now() - t0,
    dir: prep.dir,
    home: prep.home,
  };
}
