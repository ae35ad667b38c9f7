"""Process and config helpers for the agentmux end-to-end tests.

Everything here starts real processes on loopback: the release `agentmux` binary, the
Rust fixture server `agentmux-fixture`, and (through agentmux's registry) the npm MCP
servers installed by scripts/install-test-deps.sh. Every process runs in its own
process group so that a stop also ends the stdio children it spawned. Servers bind port 0 and
the harness reads the address each one prints, so no two tests can race for a port; waits are
for observable events with a deadline (`wait_until`), not fixed sleeps.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
if not TARGET_DIR.is_absolute():
    TARGET_DIR = REPO / TARGET_DIR
AGENTMUX_BIN = Path(os.environ.get("AGENTMUX_BIN") or TARGET_DIR / "release" / "agentmux")
FIXTURE_BIN = Path(os.environ.get("AGENTMUX_FIXTURE_BIN") or TARGET_DIR / "release" / "agentmux-fixture")
PATHS_JSON = REPO / ".tools" / "paths.json"

READY_TIMEOUT_S = float(os.environ.get("AGENTMUX_E2E_READY_TIMEOUT", "60"))
FIXTURE_START_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0

T = TypeVar("T")

# Every process started and not yet reaped; conftest attaches their logs to failures.
LIVE: list[Proc] = []
_LIVE_LOCK = threading.Lock()


class HarnessError(RuntimeError):
    """A process of the test harness did not start as it should."""


def tools() -> dict[str, str]:
    """Paths written by scripts/install-test-deps.sh (Node 22, npm entry points)."""
    try:
        paths = json.loads(PATHS_JSON.read_text())
    except FileNotFoundError:
        raise HarnessError(f"{PATHS_JSON} is missing: run scripts/install-test-deps.sh first") from None
    for key in ("NODE22", "INSPECTOR_JS", "SERVER_EVERYTHING_JS", "SERVER_FILESYSTEM_JS"):
        if not Path(paths[key]).exists():
            raise HarnessError(f"{key}={paths[key]} does not exist: rerun scripts/install-test-deps.sh")
    return paths


def require_binary(path: Path, what: str) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise HarnessError(f"{what} not found at {path}: run `cargo build --release --workspace` first")
    return path


POLL_S = 0.05


def wait_until(
    predicate: Callable[[], T | None | bool],
    timeout: float,
    what: str | Callable[[], str],
    *,
    interval: float = POLL_S,
) -> T:
    """Polls `predicate` every `interval` seconds until it returns something truthy, and returns
    that. After `timeout` seconds it fails with an AssertionError that names `what` (a
    callable `what` is asked only then, so it can describe the last state seen, e.g. a log tail).

    Tests wait for the event they need (a log line, a counter, a decision that changes) instead of
    sleeping for however long it usually takes: fast when the machine is fast, and not flaky when
    it is loaded. `timeout` bounds a failure, not the usual case, so it can be generous.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g}s waiting for {described}")
        time.sleep(interval)


def address_in_log(proc: Proc, pattern: re.Pattern[str], timeout: float, *, stream: str = "stderr") -> str:
    """The first group of `pattern` once it appears in the process's stdout or stderr log: the
    address a server that bound port 0 reports. Fails at once if the process exits first."""
    path = proc.stderr_path if stream == "stderr" else proc.stdout_path

    def found() -> str | None:
        try:
            m = pattern.search(path.read_text(errors="replace"))
        except FileNotFoundError:
            m = None
        if m:
            return m.group(1)
        if not proc.alive():
            raise HarnessError(
                f"{proc.name} exited with code {proc.popen.returncode} before printing "
                f"/{pattern.pattern}/ on {stream}\n{proc.tail()}"
            )
        return None

    return wait_until(found, timeout, lambda: f"/{pattern.pattern}/ in {path}\n{proc.tail()}")


# === impl Proc ===


@dataclass
class Proc:
    """A child process whose stdout and stderr go to files under the test's temp dir."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    _drain: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        out = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except FileNotFoundError:
                text = []
            out.append(f"--- {self.name} {label} ({path}) ---\n" + "\n".join(text))
        return "\n".join(out)

    def logged(self, text: str, timeout: float = 10.0) -> str:
        """Waits until `text` is in the process's stderr (agentmux writes its log and audit lines in
        batches, a few milliseconds after the event), and returns all of stderr."""

        def found() -> str | None:
            log = self.stderr_path.read_text(errors="replace")
            return log if text in log else None

        return wait_until(found, timeout, lambda: f"{text!r} in the log of {self.name}\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group at once (simulates a crash)."""
        self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL what is left after a grace period, reap."""
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        # Children of the group may outlive the leader; the group id is the leader's pid.
        self._signal_group(signal.SIGKILL)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._drain is not None:
            self._drain.join(timeout=5)
        with _LIVE_LOCK:
            if self in LIVE:
                LIVE.remove(self)

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def spawn(
    name: str,
    argv: Sequence[str | os.PathLike[str]],
    log_dir: Path,
    *,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
    stdout_pipe: bool = False,
) -> Proc:
    """Starts `argv` in its own process group. `env` adds to this process's environment; a `None`
    value removes that variable."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path = log_dir / f"{name}.stdout.log"
    stderr_path = log_dir / f"{name}.stderr.log"
    merged = {**os.environ, "RUST_BACKTRACE": "1", **(env or {})}
    full_env = {k: v for k, v in merged.items() if v is not None}
    with open(stderr_path, "wb") as err:
        out: Any = subprocess.PIPE if stdout_pipe else open(stdout_path, "wb")
        try:
            popen = subprocess.Popen(
                [str(a) for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            if not stdout_pipe:
                out.close()
    proc = Proc(name, popen, stdout_path, stderr_path)
    with _LIVE_LOCK:
        LIVE.append(proc)
    return proc


# === the Rust fixture server ===

_LISTENING = re.compile(rb"listening on (http://\S+/mcp)")


@dataclass
class FixtureServer:
    proc: Proc
    url: str  # http://127.0.0.1:PORT/mcp


def start_fixture_http(
    log_dir: Path,
    name: str = "fixture",
    extra_args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
) -> FixtureServer:
    """Start `agentmux-fixture --transport http --listen 127.0.0.1:0 [extra]` and wait for its URL."""
    binary = require_binary(FIXTURE_BIN, "agentmux-fixture")
    argv = [binary, "--transport", "http", "--listen", "127.0.0.1:0", *extra_args]
    proc = spawn(name, argv, log_dir, env=env, stdout_pipe=True)
    found: dict[str, str] = {}
    seen = threading.Event()

    def drain() -> None:
        assert proc.popen.stdout is not None
        with open(proc.stdout_path, "wb") as sink:
            for line in proc.popen.stdout:
                sink.write(line)
                sink.flush()
                if not seen.is_set() and (m := _LISTENING.search(line)):
                    found["url"] = m.group(1).decode()
                    seen.set()
        seen.set()  # EOF: the process ended (or closed stdout) before printing its address

    proc._drain = threading.Thread(target=drain, name=f"drain-{name}", daemon=True)
    proc._drain.start()
    if not seen.wait(FIXTURE_START_TIMEOUT_S) or "url" not in found:
        proc.stop()
        raise HarnessError(
            f"agentmux-fixture ({' '.join(map(str, argv))}) printed no 'listening on http://ADDR/mcp' "
            f"within {FIXTURE_START_TIMEOUT_S:.0f}s (exit code {proc.popen.poll()})\n{proc.tail()}"
        )
    return FixtureServer(proc, found["url"])


# === the Python `mcp` SDK server (tests/e2e/servers/py_server.py) ===

PY_SERVER = Path(__file__).resolve().parent / "servers" / "py_server.py"
PY_SERVER_START_TIMEOUT_S = 30.0


@dataclass
class PyServer:
    proc: Proc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


_PY_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def start_py_server(
    log_dir: Path,
    name: str = "py-server",
    port: int | None = None,
    *,
    legacy_only: bool = False,
    sse: bool = False,
    extra_args: Sequence[str] = (),
) -> PyServer:
    """Run servers/py_server.py (Streamable HTTP) on a loopback port and wait until it accepts.

    The port is the kernel's pick (port 0), read from the server's `listening on` line. Pass the
    `port` of a stopped server to restart "the same" server: its sessions are gone.
    `legacy_only` refuses the 2026-07-28 era (HTTP 400), so clients fall back to `initialize`.
    `sse` serves the legacy HTTP+SSE transport instead (its stream at `/sse`). `extra_args` go to
    py_server.py as they are (e.g. `--require-bearer URL`).
    """
    argv = [sys.executable, PY_SERVER, "--port", str(port or 0), *(["--legacy-only"] if legacy_only else []), *(["--sse"] if sse else []), *extra_args]
    proc = spawn(name, argv, log_dir)
    try:
        bound = int(address_in_log(proc, _PY_LISTENING, PY_SERVER_START_TIMEOUT_S, stream="stdout"))
    except BaseException:
        proc.stop()
        raise
    assert port is None or bound == port, (port, bound)
    return PyServer(proc, bound)


def fixture_stdio_spec(*extra_args: str) -> dict[str, Any]:
    """Registry entry running the Rust fixture as a stdio upstream."""
    binary = require_binary(FIXTURE_BIN, "agentmux-fixture")
    return {"mcp": {"command": str(binary), "args": ["--transport", "stdio", *extra_args]}}


def http_spec(url: str) -> dict[str, Any]:
    return {"mcp": {"url": url, "transport": "streamable-http"}}


def everything_spec(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """server-everything over stdio, run by the pinned Node 22 from the local install."""
    t = tools()
    mcp: dict[str, Any] = {"command": t["NODE22"], "args": [t["SERVER_EVERYTHING_JS"], "stdio"]}
    if env:
        mcp["env"] = dict(env)
    return {"mcp": mcp}


def filesystem_spec(root: Path) -> dict[str, Any]:
    t = tools()
    return {"mcp": {"command": t["NODE22"], "args": [t["SERVER_FILESYSTEM_JS"], str(root)]}}


# === agentmux ===


@dataclass
class Hub:
    proc: Proc
    port: int
    config_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/mcp") -> str:
        return self.base_url + path

    def stop(self) -> None:
        self.proc.stop()


def write_hub_config(
    config_dir: Path,
    upstreams: Mapping[str, Mapping[str, Any]],
    port: int = 0,
    *,
    settings: Mapping[str, Any] | None = None,
    registry_files: Mapping[str, str] | None = None,
) -> Path:
    """agentmux.yaml with `listen` and `registry: registry/`, one registry/<name>.yaml per upstream.

    `port` 0 (the default) lets the kernel pick when agentmux binds; `serve` prints the address.
    `settings` adds top-level keys (e.g. `{"mcp": {"prefix": "never"}}`); `registry_files` writes
    other files into registry/ verbatim (e.g. `{".mcp.json": "..."}`).
    """
    registry = config_dir / "registry"
    registry.mkdir(parents=True, exist_ok=True)
    for name, spec in upstreams.items():
        (registry / f"{name}.yaml").write_text(yaml.safe_dump(dict(spec), sort_keys=False))
    for file_name, text in (registry_files or {}).items():
        (registry / file_name).write_text(text)
    config = config_dir / "agentmux.yaml"
    top = {"listen": f"127.0.0.1:{port}", "registry": "registry/", **(settings or {})}
    config.write_text(yaml.safe_dump(top, sort_keys=False))
    return config


# What `agentmux serve` prints on stderr once its listener is bound.
HUB_LISTENING = re.compile(r"agentmux listening on http://(\S+)/mcp")


def serve(
    args: Sequence[str | os.PathLike[str]],
    log_dir: Path,
    *,
    name: str = "agentmux",
    cwd: Path | None = None,
    env: Mapping[str, str | None] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
    ready_headers: Mapping[str, str] | None = None,
) -> tuple[Proc, str]:
    """`agentmux serve ARGS`: its address (`HOST:PORT`) read from the line it prints once bound,
    then GET /readyz until 200 (every required upstream tried). `ready_headers` go with the
    readiness probe (e.g. a Host the config allows, or the metrics token)."""
    binary = require_binary(AGENTMUX_BIN, "agentmux")
    proc = spawn(name, [binary, "serve", *args], log_dir, env=env, cwd=cwd)
    try:
        addr = address_in_log(proc, HUB_LISTENING, ready_timeout)
        wait_ready(proc, f"http://{addr}/readyz", ready_timeout, headers=ready_headers)
    except BaseException:
        proc.stop()
        raise
    return proc, addr


def start_hub(
    config_dir: Path,
    upstreams: Mapping[str, Mapping[str, Any]],
    *,
    name: str = "agentmux",
    ready_timeout: float = READY_TIMEOUT_S,
    settings: Mapping[str, Any] | None = None,
    registry_files: Mapping[str, str] | None = None,
) -> Hub:
    """Write a config (listening on port 0), run `agentmux serve --config PATH`, read the address
    it bound, wait for GET /readyz == 200."""
    config = write_hub_config(config_dir, upstreams, settings=settings, registry_files=registry_files)
    proc, addr = serve(["--config", config], config_dir / "logs", name=name, cwd=config_dir, ready_timeout=ready_timeout)
    return Hub(proc, int(addr.rsplit(":", 1)[1]), config)


def wait_ready(proc: Proc, url: str, timeout: float, *, headers: Mapping[str, str] | None = None) -> None:
    """GET `url` (a /readyz) until it answers 200; fails at once if the process exits."""
    last = ["no answer yet"]

    with httpx.Client(timeout=2.0) as http:

        def ready() -> bool:
            if not proc.alive():
                raise HarnessError(
                    f"{proc.name} exited with code {proc.popen.returncode} before {url} answered 200\n{proc.tail()}"
                )
            try:
                r = http.get(url, headers=dict(headers or {}))
                if r.status_code == 200:
                    return True
                last[0] = f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as e:
                last[0] = f"{type(e).__name__}: {e}"
            return False

        wait_until(ready, timeout, lambda: f"{url} to answer 200 (last: {last[0]})\n{proc.tail()}", interval=0.1)


def new_key(cwd: Path, name: str, group: str) -> tuple[str, str]:
    """`agentmux key new --name NAME --group GROUP`: the key it prints once, and the hash for the
    config's `auth.api_keys`."""
    binary = require_binary(AGENTMUX_BIN, "agentmux")
    out = subprocess.run(
        [binary, "key", "new", "--name", name, "--group", group], capture_output=True, text=True, check=True, cwd=cwd
    ).stdout
    key = re.search(r"^\s+(amx_[A-Za-z0-9_-]{43})$", out, re.M)
    digest = re.search(r'hash: "(sha256:[0-9a-f]{64})"', out)
    assert key and digest, out
    return key.group(1), digest.group(1)
