#!/usr/bin/env bash
# Runs every check and test of IRAS, installing what the tests need from the package registries
# into .tools/ (git-ignored). This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.tools/venv"

echo "== tools: asl-validator (npm); moto, cfn-lint, aws-sam-cli, cargo-lambda (PyPI)"
if [ ! -x .tools/node_modules/.bin/asl-validator ]; then
  npm install --prefix .tools --no-audit --no-fund --silent asl-validator@4.0.0 >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ] || [ ! -x "$VENV/bin/sam" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.2,<6' 'cfn-lint>=1,<2' 'aws-sam-cli>=1.130,<2'
fi
if [ ! -x "$VENV/bin/cargo-lambda" ]; then
  # Without its dependencies cargo-lambda brings no Zig; the functions build with plain cargo.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps 'cargo-lambda==1.9.2'
fi
export PATH="$VENV/bin:$PATH"

echo "== asl-validator on statemachine.asl.json"
.tools/node_modules/.bin/asl-validator --json-path statemachine.asl.json

if [ -f infra/template.yaml ]; then
  echo "== cfn-lint and sam validate --lint on infra/template.yaml"
  AWS_DEFAULT_REGION=us-east-1 cfn-lint infra/template.yaml
  (cd infra && AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 sam validate --lint --template template.yaml)
  "$VENV/bin/python" infra/tests/check_template.py
fi

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --workspace
