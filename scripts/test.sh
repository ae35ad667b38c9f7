#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run):
#   1. pinned test tools (scripts/install-test-deps.sh: .tools/ and .venv/)
#   2. cargo build --release --workspace
#   3. Rust tests: cargo nextest run --release --workspace (cargo test if nextest is absent)
#   4. end-to-end tests: .venv/bin/pytest -q tests/e2e
#   5. MCP conformance, direct vs through agentmux: scripts/conformance.sh
# A failing build stops the run; test stages all run, and any failure fails the script.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1

stage() { printf '\n==> %s\n' "$*"; }
failed=()

stage "install test dependencies"
bash scripts/install-test-deps.sh

stage "cargo build --release --workspace"
cargo build --release --workspace

stage "Rust tests"
# Property tests (tests/fuzz.rs and beside the code) explore new random cases on every local
# run; CI runs a fixed, reproducible set. Unset PROPTEST_RNG_SEED to explore.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261130}"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --release --workspace --no-tests=warn || failed+=("cargo nextest")
else
    echo "cargo-nextest not found; using cargo test"
    cargo test --release --workspace || failed+=("cargo test")
fi

stage "end-to-end tests (pytest tests/e2e)"
rc=0
.venv/bin/pytest -q tests/e2e || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "pytest collected no tests in tests/e2e"
fi
[[ $rc -eq 0 ]] || failed+=("pytest tests/e2e (exit $rc)")

stage "MCP conformance (scripts/conformance.sh)"
bash scripts/conformance.sh || failed+=("conformance")

if ((${#failed[@]})); then
    printf '\ntest.sh: FAILED: %s\n' "${failed[*]}" >&2
    exit 1
fi
printf '\ntest.sh: all stages passed\n'
