#!/usr/bin/env bash
# Runs every check and test of IRAS, installing what the tests need from the package registries.
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== asl-validator (npm) on statemachine.asl.json"
if [ ! -x .tools/node_modules/.bin/asl-validator ]; then
  npm install --prefix .tools --no-audit --no-fund --silent asl-validator@4.0.0 >/dev/null
fi
.tools/node_modules/.bin/asl-validator --json-path statemachine.asl.json

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --workspace
