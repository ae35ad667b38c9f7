"""Every shipped example is started, not only parsed: `agentmux serve` on a copy of each
examples/*/agentmux.yaml (and the config the README's quick start runs) must come up and answer a
real MCP session, initialize and tools/list, with the credentials that example asks for.

Each example is copied to a temp dir, so relative registry and policy paths resolve as they would
for a user, and served on a free loopback port with `serve --listen 127.0.0.1:0`. Commands the
examples fetch with `npx` are rewritten to the pinned local copies (no network); nothing else is
changed, except the secure example's API key, whose hash is replaced by one whose key the test
holds. agentmux runs in the repository root, where the READMEs tell users to run it.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
import httpx
import jwt
import pytest
import yaml
from raw_mcp import ACCEPT, VERSION, RawSession, RpcError
from test_auth import Keys, new_api_key

EXAMPLES = harness.REPO / "examples"
README = harness.REPO / "README.md"
_LISTENING = re.compile(r"agentmux listening on http://(127\.0\.0\.1:\d+)/mcp")
# How long a non-required upstream (started in the background) may take to show up.
UPSTREAM_WAIT_S = 60.0


def readme_configs() -> list[Path]:
    """Configs the README tells users to `serve`."""
    found = re.findall(r"\bserve\s+--config\s+(\S+)", README.read_text())
    return [harness.REPO / p for p in found]


def example_configs() -> list[Path]:
    configs = set(EXAMPLES.glob("*/agentmux.yaml")) | set(readme_configs())
    return sorted(configs)


def test_the_readme_quick_start_is_an_example_that_exists() -> None:
    configs = readme_configs()
    assert configs, "README.md names no `agentmux serve --config …` command"
    for config in configs:
        assert config.is_file(), f"README.md serves {config}, which does not exist"


# === making a copy runnable here ===


def pinned_command(command: str, args: list[str]) -> tuple[str, list[str]] | None:
    """The local copy of an `npx -y @modelcontextprotocol/server-…@version` command."""
    if Path(command).name != "npx":
        return None
    t = harness.tools()
    rest = [a for a in args if a != "-y"]
    package, rest = rest[0], rest[1:]
    if re.fullmatch(r"@modelcontextprotocol/server-everything(@[\w.-]+)?", package):
        return t["NODE22"], [t["SERVER_EVERYTHING_JS"], *(rest or ["stdio"])]
    if re.fullmatch(r"@modelcontextprotocol/server-filesystem(@[\w.-]+)?", package):
        return t["NODE22"], [t["SERVER_FILESYSTEM_JS"], *rest]
    raise AssertionError(f"an example runs `npx {package}`, which has no pinned copy in scripts/install-test-deps.sh")


def local_command(command: str) -> str:
    """The fixture binary where this build put it (CARGO_TARGET_DIR may move it)."""
    if command == "target/release/agentmux-fixture":
        return str(harness.require_binary(harness.FIXTURE_BIN, "agentmux-fixture"))
    return command


def rewrite_entry(entry: dict[str, Any]) -> None:
    command = entry.get("command")
    if not isinstance(command, str):
        return
    pinned = pinned_command(command, list(entry.get("args", [])))
    if pinned:
        entry["command"], entry["args"] = pinned
    else:
        entry["command"] = local_command(command)


def make_runnable(copy: Path) -> None:
    """Points every registry entry's command at what is installed here, in place."""
    for path in copy.rglob("*"):
        if path.suffix in (".yaml", ".yml") and path.parent.name != "policies" and path.name != "agentmux.yaml":
            doc = yaml.safe_load(path.read_text())
            if isinstance(doc, dict) and isinstance(doc.get("mcp"), dict):
                rewrite_entry(doc["mcp"])
                path.write_text(yaml.safe_dump(doc, sort_keys=False))
        elif path.suffix == ".json":
            doc = json.loads(path.read_text())
            servers = doc.get("mcpServers") or doc.get("servers") or {}
            for entry in servers.values():
                rewrite_entry(entry)
            path.write_text(json.dumps(doc, indent=2))


# === serving ===


@dataclass
class Served:
    proc: harness.Proc
    addr: str  # 127.0.0.1:PORT
    # Headers every request carries (e.g. a Host the example allows).
    headers: dict[str, str]

    def url(self, path: str = "/mcp") -> str:
        return f"http://{self.addr}{path}"

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(self.url(path), headers={**self.headers, **headers}, timeout=10)

    def post(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        base = {"Content-Type": "application/json", "Accept": ACCEPT, "MCP-Protocol-Version": VERSION}
        return httpx.post(self.url(), json=body, headers={**base, **self.headers, **headers}, timeout=30)

    def session(self, credentials: dict[str, str] | None = None) -> Session:
        return Session(self.url(), {**self.headers, **(credentials or {})})


class Session(RawSession):
    def __init__(self, url: str, extra: dict[str, str]) -> None:
        self.extra = extra
        super().__init__(url)

    def headers(self) -> dict[str, str]:
        return {**super().headers(), **self.extra}


def serve(config: Path, log_dir: Path, headers: dict[str, str]) -> Served:
    """`agentmux serve --config CONFIG --listen 127.0.0.1:0`, its address read from its log, then
    GET /readyz until 200 (a failed upstream counts as tried)."""
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    argv = [binary, "serve", "--config", config, "--listen", "127.0.0.1:0"]
    proc = harness.spawn(f"agentmux-{config.parent.name}", argv, log_dir, cwd=harness.REPO)
    deadline = time.monotonic() + harness.READY_TIMEOUT_S
    addr = None
    last = "no answer yet"
    try:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise AssertionError(f"agentmux exited with code {proc.popen.returncode}\n{proc.tail()}")
            if addr is None:
                found = _LISTENING.search(proc.stderr_path.read_text(errors="replace"))
                addr = found and found.group(1)
            if addr:
                try:
                    r = httpx.get(f"http://{addr}/readyz", headers=headers, timeout=2)
                    if r.status_code == 200:
                        return Served(proc, addr, headers)
                    last = f"HTTP {r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as e:
                    last = f"{type(e).__name__}: {e}"
            time.sleep(0.1)
        raise AssertionError(f"{config} did not become ready (last: {last})\n{proc.tail()}")
    except BaseException:
        proc.stop()
        raise


def wait_log(served: Served, pattern: str) -> None:
    """Waits (briefly) for a line of agentmux's log: the summary follows readiness closely."""
    deadline = time.monotonic() + 10
    while not re.search(pattern, served.proc.stderr_path.read_text(errors="replace")):
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line like {pattern!r}\n{served.proc.tail()}")
        time.sleep(0.1)


def wait_for_tool(s: RawSession, name: str, served: Served) -> set[str]:
    """Tool names once `name` is among them (non-required upstreams connect in the background)."""
    deadline = time.monotonic() + UPSTREAM_WAIT_S
    while True:
        names = {t["name"] for t in s.list_all("tools/list", "tools")}
        if name in names:
            return names
        if time.monotonic() > deadline:
            raise AssertionError(f"no tool {name} within {UPSTREAM_WAIT_S:.0f}s; tools: {sorted(names)}\n{served.proc.tail()}")
        time.sleep(0.3)


# === what each example needs, and what it must do ===


def check_quickstart(served: Served, copy: Path) -> None:
    with served.session() as s:
        names = wait_for_tool(s, "everything__echo", served)
        assert any(n.startswith("fs__") for n in names), names
        # The filesystem example's write tools are excluded.
        assert not any(n.startswith("fs__write_") for n in names), names
        echoed = s.request("tools/call", {"name": "everything__echo", "arguments": {"message": "quick start"}})
        assert "quick start" in json.dumps(echoed)


def check_ide_config(served: Served, copy: Path) -> None:
    with served.session() as s:
        wait_for_tool(s, "everything__echo", served)
    # "Docs Search" points at a server nobody runs here; the summary says so and serving goes on.
    wait_log(served, r"docs-search\s+FAILED")


def check_remote(served: Served, copy: Path) -> None:
    # Only the names in `server.allowed_hosts` are served (the Host check covers /readyz too).
    assert served.get("/readyz", Host="127.0.0.1").status_code == 403
    with served.session() as s:
        assert s.list_all("tools/list", "tools") == []  # its one upstream is not running here
    wait_log(served, r"search\s+FAILED")


def secure_copy(copy: Path, tmp: Path) -> dict[str, str]:
    """Puts a key the test holds in place of the example's placeholder hash."""
    key, digest = new_api_key(tmp)
    config = copy / "agentmux.yaml"
    doc = yaml.safe_load(config.read_text())
    shipped = doc["auth"]["api_keys"][0]["hash"]
    # The example must not ship the hash of a key anyone can guess (e.g. "test").
    assert shipped != "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    doc["auth"]["api_keys"][0]["hash"] = digest
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return {"X-API-Key": key}


def check_secure(served: Served, copy: Path, credentials: dict[str, str]) -> None:
    initialize = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "examples-e2e", "version": "0"}},
    }
    assert served.post(initialize).status_code == 401
    assert served.post(initialize, **{"X-API-Key": "test"}).status_code == 401
    with served.session(credentials) as ci:
        # The fixture is `required: false`: it may still be starting.
        names = wait_for_tool(ci, "fixture__count_calls", served)
        # CI may call read-only tools, and never destructive ones (the example's policies).
        assert "fixture__refund" not in names, names
        counted = ci.request("tools/call", {"name": "fixture__count_calls", "arguments": {}})
        assert counted["structuredContent"]["count"] >= 1
        with pytest.raises(RpcError):
            ci.request("tools/call", {"name": "fixture__refund", "arguments": {"amount": 1}})
    # The example's IdP is not reachable here: its tokens are refused (its JWKS cannot be
    # fetched), promptly, and the gateway keeps serving API keys.
    token = jwt.encode(
        {"iss": "https://idp.example.com", "aud": "agentmux", "sub": "bob", "exp": int(time.time()) + 600},
        Keys().private_pem, algorithm="RS256", headers={"kid": "k1"},
    )
    started = time.monotonic()
    assert served.post(initialize, Authorization=f"Bearer {token}").status_code == 401
    assert time.monotonic() - started < 20
    assert served.post(initialize, **credentials).status_code == 200


Check = Callable[[Served, Path], None]
CHECKS: dict[str, Check] = {
    "quickstart": check_quickstart,
    "ide-config": check_ide_config,
    "remote": check_remote,
}
# Hosts an example allows that loopback requests must name.
HOSTS = {"remote": "localhost"}


@pytest.fixture
def served_example(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Served, Path, dict[str, str]]]:
    config: Path = request.param
    name = config.parent.name
    copy = tmp_path / name
    shutil.copytree(config.parent, copy)
    make_runnable(copy)
    credentials = secure_copy(copy, tmp_path) if name == "secure" else {}
    headers = {"Host": HOSTS[name]} if name in HOSTS else {}
    served = serve(copy / config.name, tmp_path / "logs", headers)
    yield name, served, copy, credentials
    served.proc.stop()


@pytest.mark.parametrize("served_example", example_configs(), ids=lambda p: p.parent.name, indirect=True)
def test_example_serves(served_example: tuple[str, Served, Path, dict[str, str]]) -> None:
    name, served, copy, credentials = served_example
    # The generic check every example passes: one real session through the gateway.
    with served.session(credentials) as s:
        assert s.initialize_result["protocolVersion"] == VERSION
        assert isinstance(s.list_all("tools/list", "tools"), list)
    if name == "secure":
        check_secure(served, copy, credentials)
    else:
        assert name in CHECKS, f"examples/{name} is new: say in CHECKS what it must serve"
        CHECKS[name](served, copy)
