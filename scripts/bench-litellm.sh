#!/usr/bin/env bash
# Install the LiteLLM proxy that `agentmux-bench llm --litellm` measures agentmux against.
# Benchmark only: the test command never needs it.
#
#   .venv-bench/   Python venv from scripts/bench-deps/requirements-litellm.txt
#                  (litellm[proxy,proxy-runtime] and every transitive dependency pinned).
#
# Idempotent, like install-test-deps.sh: a stamp (hash of the inputs) that matches and a
# `litellm` that still answers mean nothing to do. Prints the absolute path of the `litellm`
# binary on its last line, so:
#
#   target/release/agentmux-bench llm --litellm "$(scripts/bench-litellm.sh | tail -1)"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQS="$ROOT/scripts/bench-deps/requirements-litellm.txt"
VENV="$ROOT/.venv-bench"
PYTHON="${PYTHON:-python3}"
# The machine reaches package registries only: LiteLLM is to use the model cost map it ships
# instead of fetching one at import (three attempts, ~8 s of retries otherwise).
export LITELLM_LOCAL_MODEL_COST_MAP=True

say() { printf 'bench-litellm: %s\n' "$*" >&2; }
die() { printf 'bench-litellm: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "$PYTHON is not on PATH (set PYTHON=/path/to/python3.10+)"
py_version="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$PYTHON is $py_version; litellm needs Python >= 3.10"

# The stamp covers the repo path too: a venv holds absolute paths.
stamp_want="$({ echo "$ROOT"; echo "$py_version"; cat "$REQS" "${BASH_SOURCE[0]}"; } | sha256sum | cut -d' ' -f1)"
stamp_have="$(cat "$VENV/.stamp" 2>/dev/null || true)"
want_version="$(sed -n 's/^litellm\[[^]]*\]==//p' "$REQS")"

installed_ok() {
    [[ "$stamp_have" == "$stamp_want" ]] &&
        [[ -x "$VENV/bin/litellm" ]] &&
        "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("litellm") != sys.argv[1])' \
            "$want_version" 2>/dev/null
}

if installed_ok; then
    say "litellm $want_version up to date in .venv-bench/ (python $py_version); skipped"
else
    say "creating .venv-bench/ with python $py_version and litellm $want_version (a few minutes)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "python -m venv failed"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --require-virtualenv -r "$REQS" || die "pip install failed"
    have="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')" ||
        die "litellm does not import after install"
    [[ "$have" == "$want_version" ]] || die "installed litellm $have, expected $want_version"
    "$VENV/bin/python" -c 'import litellm.proxy.proxy_server, litellm.integrations.otel.logger' >/dev/null ||
        die "the litellm proxy does not import after install"
    echo "$stamp_want" >"$VENV/.stamp"
    say "installed litellm $have"
fi
echo "$VENV/bin/litellm"
