#!/usr/bin/env node
// Adds lock entries for optional per-platform packages that `npm install` left out of
// package-lock.json because the registry it used did not have them. Without the entries
// `npm ci` refuses the lock ("Missing: … from lock file"); with them, npm skips the packages
// that do not fit this machine and fetches the ones that do.
//
// After changing dependencies:  npm install && node scripts/fill-lock.mjs && npm ci

import fs from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(fs.readFileSync(file, "utf8"));
const packages = lock.packages;

/** os and cpu from a package name such as `@scope/thing-darwin-arm64` or `thing-linux-x64-musl`. */
function platform(name) {
  const os = ["darwin", "linux", "win32", "freebsd", "openbsd", "android", "sunos", "aix"].find((o) => name.includes(`-${o}`));
  const cpu = ["arm64", "x64", "ia32", "arm", "ppc64", "s390x", "riscv64", "loong64", "mips64el"].find((c) => new RegExp(`-${c}(-|$)`).test(name));
  if (!os || !cpu) return undefined;
  return name.endsWith("-musl") ? { os: [os], cpu: [cpu], libc: ["musl"] } : { os: [os], cpu: [cpu] };
}

let added = 0;
for (const [at, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const nested = `${at}/node_modules/${name}`;
    if (packages[key] || packages[nested]) continue;
    const p = platform(name);
    if (!p) {
      console.error(`fill-lock: ${name} (optional dependency of ${at || "the root"}) is missing and its platform is unknown`);
      process.exitCode = 1;
      continue;
    }
    packages[key] = { version, optional: true, ...p };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
lock.packages = sorted;
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + "\n");
console.error(`fill-lock: ${added} entries added`);
