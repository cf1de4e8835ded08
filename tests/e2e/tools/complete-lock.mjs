#!/usr/bin/env node
// Complete package-lock.json with the platform-specific optional packages that
// `npm install` left out.
//
// Why: opencode-ai (and msgpackr-extract) list one optional package per
// platform. When the registry a machine reaches does not serve some of them
// (404), `npm install` silently skips them AND leaves them out of the lock,
// after which `npm ci` refuses the lock ("Missing: opencode-darwin-arm64@ from
// lock file"). This script adds a lock entry for every optional dependency
// that has none, with os/cpu (and libc for *-musl) taken from the package
// name, so `npm ci` skips the foreign ones without fetching anything.
//
// Usage (after changing versions):  npm install && node tools/complete-lock.mjs && npm ci

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const lockPath = path.join(here, "package-lock.json");
const lock = JSON.parse(fs.readFileSync(lockPath, "utf8"));
const pkgs = lock.packages;

function platformOf(name) {
  const base = name.split("/").pop();
  const os = /darwin/.test(base) ? "darwin" : /win32|windows/.test(base) ? "win32" : /linux/.test(base) ? "linux" : /freebsd/.test(base) ? "freebsd" : null;
  const cpu = /arm64/.test(base) ? "arm64" : /-arm(?!64)/.test(base) ? "arm" : /x64/.test(base) ? "x64" : /ia32/.test(base) ? "ia32" : null;
  if (!os || !cpu) return null;
  const out = { cpu: [cpu], os: [os] };
  if (/musl/.test(base)) out.libc = ["musl"];
  return out;
}

// where npm would look for dependency `name` of the package at `at`
function resolves(at, name) {
  let dir = at;
  for (;;) {
    const key = (dir ? `${dir}/` : "") + `node_modules/${name}`;
    if (pkgs[key]) return true;
    if (!dir) return false;
    const i = dir.lastIndexOf("node_modules/");
    dir = i <= 0 ? "" : dir.slice(0, i - 1);
  }
}

let added = 0;
for (const [at, entry] of Object.entries(pkgs)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    if (resolves(at, name)) continue;
    const plat = platformOf(name);
    if (!plat) {
      console.error(`cannot infer the platform of ${name}; add it by hand`);
      process.exitCode = 1;
      continue;
    }
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) {
      console.error(`${name}@${spec} is not an exact version; add it by hand`);
      process.exitCode = 1;
      continue;
    }
    const e = { ...plat, dev: entry.dev || undefined, optional: true };
    // npm writes "version" first and the other keys sorted
    pkgs[`node_modules/${name}`] = { version: spec, ...Object.fromEntries(Object.entries(e).sort(([a], [b]) => a.localeCompare(b))) };
    added++;
    console.log(`added node_modules/${name}@${spec} ${JSON.stringify(plat)}`);
  }
}

// keep npm's ordering: "" first, then keys sorted
const sorted = { "": pkgs[""] };
for (const k of Object.keys(pkgs).filter((k) => k !== "").sort((a, b) => a.localeCompare(b, "en"))) sorted[k] = pkgs[k];
lock.packages = sorted;
fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + "\n");
console.log(`${added} entr${added === 1 ? "y" : "ies"} added`);
