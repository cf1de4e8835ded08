#!/usr/bin/env bash
# Removes what scripts/install.sh installed: the OpenCode plugin file and the server binary.
# Task ledgers in your projects (.opencode/orchestrator/) are left alone.
set -euo pipefail
plugin="${XDG_CONFIG_HOME:-$HOME/.config}/opencode/plugin/opencode-orchestrator.js"
if [[ -f "$plugin" ]]; then
  rm -f "$plugin"
  echo "removed $plugin"
fi
if command -v cargo >/dev/null && cargo install --list | grep -q '^opencode-orchestrator '; then
  cargo uninstall opencode-orchestrator
fi
echo "uninstalled; restart OpenCode"
