#!/usr/bin/env bash
# Builds and installs opencode-orchestrator for the current user:
#   - the server binary, with cargo install (into ~/.cargo/bin, or $CARGO_INSTALL_ROOT/bin);
#   - the OpenCode plugin, built to one file and put in OpenCode's user plugin folder
#     (${XDG_CONFIG_HOME:-~/.config}/opencode/plugin/), where OpenCode loads it at start.
# Safe to run again: both are replaced. Undo with scripts/uninstall.sh.
# --debug builds an unoptimised binary (quicker; used by the tests).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=(--release)
if [[ "${1:-}" == "--debug" ]]; then
  profile=(--debug)
fi

command -v cargo >/dev/null || { echo "install: cargo is needed (https://rustup.rs)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install: npm (Node 20+) is needed to build the OpenCode plugin" >&2; exit 1; }

echo "== building and installing the server"
# Reuse this checkout's build directory so a second install only relinks.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" cargo install --locked --force --quiet "${profile[@]}" --path .
root="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}"
bin="$root/bin/opencode-orchestrator"
"$bin" version

echo "== building the OpenCode plugin"
(cd editors/opencode && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)

plugin_dir="${XDG_CONFIG_HOME:-$HOME/.config}/opencode/plugin"
mkdir -p "$plugin_dir"
cp editors/opencode/dist/index.js "$plugin_dir/opencode-orchestrator.js"
echo "== installed"
echo "server: $bin"
echo "plugin: $plugin_dir/opencode-orchestrator.js"
case ":$PATH:" in
  *":$root/bin:"*) ;;
  *) echo "note: $root/bin is not on PATH; the plugin also looks there, or set OPENCODE_ORCHESTRATOR_BIN=$bin" ;;
esac
echo "Restart OpenCode: the orchestrator's tools, agents and /task are then available."
