#!/usr/bin/env bash
# Runs every test: the Rust suites (unit, protocol over fake stdio), the Node client test that
# drives the real binary through vscode-jsonrpc, the OpenCode plugin's and the VS Code
# extension's tests, and the end-to-end tests against a real OpenCode whose only fake is the
# model.
set -euo pipefail
cd "$(dirname "$0")/.."

export npm_config_fetch_retries="${npm_config_fetch_retries:-2}"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

echo "== cargo test"
cargo test --locked --all-targets

echo "== node protocol test (vscode-jsonrpc against the real binary)"
cargo build --locked --quiet
export OPENCODE_ORCHESTRATOR_BIN="$PWD/target/debug/opencode-orchestrator"
(cd tests/node && npm ci --no-audit --no-fund --silent && npm test)

echo "== OpenCode plugin: build, type check, lint, tests"
(cd editors/opencode && npm ci --no-audit --no-fund --silent && npm run --silent build \
  && npm run --silent typecheck && npm run --silent lint && npm test)

echo "== end-to-end harness: a real OpenCode (npm opencode-ai)"
(cd tests/e2e && npm ci --no-audit --no-fund --silent)

echo "== VS Code extension: type check, lint, tests (vscode API stubbed; real server, and real OpenCode)"
(cd editors/vscode && npm ci --no-audit --no-fund --silent \
  && npm run --silent typecheck && npm run --silent lint && npm test)

echo "== end-to-end: a real OpenCode with a scripted model"
(cd tests/e2e && npm test)
