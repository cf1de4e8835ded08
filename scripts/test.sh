#!/usr/bin/env bash
# Runs every test: the Rust suites (unit, protocol over fake stdio), the Node client test that
# drives the real binary through vscode-jsonrpc, the OpenCode plugin's and the VS Code
# extension's tests, and the end-to-end tests against a real OpenCode whose only fake is the
# model.
set -euo pipefail
cd "$(dirname "$0")/.."

export npm_config_fetch_retries="${npm_config_fetch_retries:-2}"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# npm ci in $1, tried three times: a registry hiccup on the ~180 MB OpenCode binary should not
# fail the run. npm's own errors stay visible (no --silent), and a last failure shows the disk.
npm_ci() {
  local attempt
  for attempt in 1 2 3; do
    if (cd "$1" && npm ci --no-audit --no-fund --loglevel=error); then
      return 0
    fi
    echo "npm ci in $1 failed (attempt $attempt of 3)" >&2
    sleep $((attempt * 5))
  done
  df -h "$1" >&2
  return 1
}

echo "== cargo test"
cargo test --locked --all-targets

echo "== node protocol test (vscode-jsonrpc against the real binary)"
cargo build --locked --quiet
export OPENCODE_ORCHESTRATOR_BIN="$PWD/target/debug/opencode-orchestrator"
npm_ci tests/node
(cd tests/node && npm test)

echo "== OpenCode plugin: build, type check, lint, tests"
npm_ci editors/opencode
(cd editors/opencode && npm run --silent build \
  && npm run --silent typecheck && npm run --silent lint && npm test)

echo "== end-to-end harness: a real OpenCode (npm opencode-ai)"
npm_ci tests/e2e

echo "== VS Code extension: type check, lint, tests (vscode API stubbed; real server, and real OpenCode)"
npm_ci editors/vscode
(cd editors/vscode && npm run --silent typecheck && npm run --silent lint && npm test)

echo "== end-to-end: a real OpenCode with a scripted model"
(cd tests/e2e && npm test)
