#!/usr/bin/env bash
# MCP conformance: the Rust fixture server run directly vs. behind agentmux.
#
#   1. target/release/agentmux-fixture --transport http --listen 127.0.0.1:0
#   2. a temp agentmux config whose registry holds the fixture as upstream `fixture`,
#      target/release/agentmux serve --config THAT, wait for /readyz
#   3. for each revision (CONFORMANCE_REVISIONS, default "2025-11-25 2026-07-28"), on Node 22:
#        conformance server --url http://FIXTURE/mcp          --requirements REV -o .../direct
#        conformance server --url http://AGENTMUX/mcp/fixture --requirements REV -o .../via
#   4. scripts/conformance_compare.py prints "scenario | direct | via agentmux" and fails on
#      a scenario that passes directly but not through agentmux, unless
#      tests/conformance/expected-failures.txt lists it.
#
# Results stay in target/conformance/ (checks.json per scenario, logs, summary.json).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
AGENTMUX_BIN="${AGENTMUX_BIN:-$TARGET_DIR/release/agentmux}"
FIXTURE_BIN="${AGENTMUX_FIXTURE_BIN:-$TARGET_DIR/release/agentmux-fixture}"
REVISIONS="${CONFORMANCE_REVISIONS:-2025-11-25 2026-07-28}"
SCENARIO_TIMEOUT_MS="${CONFORMANCE_SCENARIO_TIMEOUT_MS:-20000}"
RUN_TIMEOUT_S="${CONFORMANCE_RUN_TIMEOUT_S:-900}"
READY_TIMEOUT_S=60
EXPECTED="$ROOT/tests/conformance/expected-failures.txt"
WORK="$TARGET_DIR/conformance"

say() { printf 'conformance: %s\n' "$*"; }
die() { printf 'conformance: error: %s\n' "$*" >&2; exit 1; }

[[ -f "$ROOT/.tools/paths.env" ]] || bash "$ROOT/scripts/install-test-deps.sh"
# shellcheck source=/dev/null
. "$ROOT/.tools/paths.env"
[[ -x "$AGENTMUX_BIN" ]] || die "$AGENTMUX_BIN missing: run cargo build --release --workspace"
[[ -x "$FIXTURE_BIN" ]] || die "$FIXTURE_BIN missing: run cargo build --release --workspace"
PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || PY=python3
export PATH="$NODE22_BIN_DIR:$PATH"

rm -rf "$WORK"
mkdir -p "$WORK/hub/registry"

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        # Each child leads its own process group (setsid), so stdio grandchildren go too.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tail_logs() {
    local f
    for f in "$@"; do
        [[ -f "$f" ]] && { echo "--- $f (last 40 lines) ---"; tail -n 40 "$f"; }
    done
    return 0
}

# === 1. fixture ===
setsid "$FIXTURE_BIN" --transport http --listen 127.0.0.1:0 \
    >"$WORK/fixture.stdout.log" 2>"$WORK/fixture.stderr.log" </dev/null &
PIDS+=("$!")
FIXTURE_PID=$!
FIXTURE_URL=""
for _ in $(seq 300); do
    FIXTURE_URL="$(sed -n 's#.*listening on \(http://[^[:space:]]*/mcp\).*#\1#p' "$WORK/fixture.stdout.log" | head -n1)"
    [[ -n "$FIXTURE_URL" ]] && break
    kill -0 "$FIXTURE_PID" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$FIXTURE_URL" ]]; then
    tail_logs "$WORK/fixture.stdout.log" "$WORK/fixture.stderr.log" >&2
    die "agentmux-fixture printed no 'listening on http://ADDR/mcp' within 30s"
fi
say "fixture at $FIXTURE_URL"

# === 2. agentmux with the fixture as its only upstream ===
PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$WORK/hub/agentmux.yaml" <<EOF
listen: 127.0.0.1:$PORT
registry: registry/
EOF
cat >"$WORK/hub/registry/fixture.yaml" <<EOF
mcp:
  url: $FIXTURE_URL
EOF
# The same server again, spoken to in the stateful era only, so that both upstream links
# (stateless via server/discover, stateful via initialize) are checked.
cat >"$WORK/hub/registry/fixture-stateful.yaml" <<EOF
mcp:
  url: $FIXTURE_URL
  protocol: "2025-11-25"
EOF
(cd "$WORK/hub" && exec setsid "$AGENTMUX_BIN" serve --config "$WORK/hub/agentmux.yaml" \
    >"$WORK/agentmux.stdout.log" 2>"$WORK/agentmux.stderr.log" </dev/null) &
PIDS+=("$!")
HUB_PID=$!
HUB="http://127.0.0.1:$PORT"
ready=""
for _ in $(seq $((READY_TIMEOUT_S * 10))); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$HUB/readyz" || true)" == 200 ]]; then
        ready=1
        break
    fi
    kill -0 "$HUB_PID" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$ready" ]]; then
    tail_logs "$WORK/agentmux.stdout.log" "$WORK/agentmux.stderr.log" >&2
    die "agentmux did not answer 200 on $HUB/readyz within ${READY_TIMEOUT_S}s (or exited)"
fi
say "agentmux ready at $HUB (upstream fixture -> $FIXTURE_URL)"

# === 3. the suite, both ways ===
run_suite() { # revision side url
    local rev="$1" side="$2" url="$3" rc=0
    mkdir -p "$WORK/$rev/$side"
    say "running requirements $rev against $side: $url"
    timeout "$RUN_TIMEOUT_S" "$NODE22" "$CONFORMANCE_JS" server --url "$url" --requirements "$rev" \
        --timeout "$SCENARIO_TIMEOUT_MS" -o "$WORK/$rev/$side" \
        >"$WORK/$rev/$side.log" 2>&1 </dev/null || rc=$?
    # The suite exits 1 when a scenario fails; the comparison below decides. Other codes
    # (timeout 124, crashes) are reported, and missing results then count as failures.
    [[ $rc -le 1 ]] || say "warning: conformance run ($rev, $side) exited with code $rc; see $WORK/$rev/$side.log"
}
for rev in $REVISIONS; do
    run_suite "$rev" direct "$FIXTURE_URL"
    run_suite "$rev" via "$HUB/mcp/fixture"
done
# 2025-11-25 clients through the stateful upstream link, compared with the same direct run.
if [[ " $REVISIONS " == *" 2025-11-25 "* ]]; then
    STATEFUL="2025-11-25-stateful-upstream"
    mkdir -p "$WORK/$STATEFUL/via"
    ln -s "$WORK/2025-11-25/direct" "$WORK/$STATEFUL/direct"
    say "running requirements 2025-11-25 against via (stateful upstream link): $HUB/mcp/fixture-stateful"
    rc=0
    timeout "$RUN_TIMEOUT_S" "$NODE22" "$CONFORMANCE_JS" server --url "$HUB/mcp/fixture-stateful" --requirements 2025-11-25 \
        --timeout "$SCENARIO_TIMEOUT_MS" -o "$WORK/$STATEFUL/via" >"$WORK/$STATEFUL/via.log" 2>&1 </dev/null || rc=$?
    [[ $rc -le 1 ]] || say "warning: conformance run ($STATEFUL) exited with code $rc"
    REVISIONS="$REVISIONS $STATEFUL"
fi

# === 4. compare ===
# shellcheck disable=SC2086
"$PY" "$ROOT/scripts/conformance_compare.py" --results "$WORK" --revisions $REVISIONS \
    --expected-failures "$EXPECTED" --summary-json "$WORK/summary.json" || {
    tail_logs "$WORK/agentmux.stderr.log"
    exit 1
}
