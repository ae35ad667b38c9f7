"""Every shipped config is started, not only parsed: `agentmux serve` on a copy of each
examples/*/agentmux.yaml, and on the repository's own default config (./agentmux.yaml, which the
README's first command serves), must come up and answer a real MCP session, initialize and
tools/list, with the credentials that config asks for.

Each example is copied to a temp dir, so relative registry and policy paths resolve as they would
for a user, and served on a free loopback port with `serve --listen 127.0.0.1:0`. Commands the
examples fetch with `npx` are rewritten to the pinned local copies (no network); nothing else is
changed, except the secure example's API key, whose hash is replaced by one whose key the test
holds. agentmux runs in the repository root, where the READMEs tell users to run it.

The default config is served in place, exactly as `agentmux serve` with no flags runs it from the
repository root; only `npx` is a stand-in on PATH that runs the pinned local copies, and refuses
any other package or version.
"""

from __future__ import annotations

import json
import os
import re
import shlex
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
from mcp_util import MODES, all_tools, client, texts
from raw_mcp import ACCEPT, VERSION, RawSession, RpcError
from test_auth import Keys, new_api_key

EXAMPLES = harness.REPO / "examples"
README = harness.REPO / "README.md"
DEFAULT_CONFIG = harness.REPO / "agentmux.yaml"
# How long a non-required upstream (started in the background) may take to show up.
UPSTREAM_WAIT_S = 60.0
# How long a log line that follows readiness closely may take.
LOG_WAIT_S = 10.0


def readme_configs() -> list[Path]:
    """Configs the README's shell blocks `serve`: `--config PATH`, or else ./agentmux.yaml."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    found = re.findall(r"(?:agentmux|cargo run --release --) serve\b(?:[ \t]+--config[ \t]+(\S+))?", "".join(blocks))
    return sorted({harness.REPO / (path or "agentmux.yaml") for path in found})


def example_configs() -> list[Path]:
    """The examples to copy and serve (the default config is served in place, below)."""
    configs = set(EXAMPLES.glob("*/agentmux.yaml")) | set(readme_configs())
    return sorted(configs - {DEFAULT_CONFIG})


def test_the_readme_quick_start_is_an_example_that_exists() -> None:
    configs = readme_configs()
    assert configs, "README.md names no `agentmux serve` command"
    for config in configs:
        assert config.is_file(), f"README.md serves {config}, which does not exist"
    # The first command of the README runs the default config.
    assert DEFAULT_CONFIG in configs, configs


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


def serve(config: Path, log_dir: Path, headers: dict[str, str], env: dict[str, str | None] | None = None) -> Served:
    """`agentmux serve --config CONFIG --listen 127.0.0.1:0`, its address read from its log, then
    GET /readyz until 200 (a failed upstream counts as tried)."""
    proc, addr = harness.serve(
        ["--config", config, "--listen", "127.0.0.1:0"], log_dir,
        name=f"agentmux-{config.parent.name}", cwd=harness.REPO, ready_headers=headers, env=env or None,
    )
    return Served(proc, addr, headers)


def wait_log(served: Served, pattern: str) -> None:
    """Waits for a line of agentmux's log (the upstream summary follows readiness closely)."""
    path = served.proc.stderr_path
    harness.wait_until(
        lambda: re.search(pattern, path.read_text(errors="replace")), LOG_WAIT_S,
        lambda: f"a log line like {pattern!r}\n{served.proc.tail()}",
    )


def wait_for_tool(s: RawSession, name: str, served: Served) -> set[str]:
    """Tool names once `name` is among them (non-required upstreams connect in the background)."""
    names: set[str] = set()

    def listed() -> set[str] | None:
        nonlocal names
        names = {t["name"] for t in s.list_all("tools/list", "tools")}
        return names if name in names else None

    return harness.wait_until(
        listed, UPSTREAM_WAIT_S, lambda: f"tool {name} to be listed; tools: {sorted(names)}\n{served.proc.tail()}", interval=0.3
    )


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
def check_a2a(served: Served, copy: Path) -> None:
    """Both agents are listed and reachable through agentmux with the official SDK client."""
    import anyio
    from a2a_util import sdk_send

    def both_ready() -> dict[str, Any] | None:
        agents = {a["name"]: a for a in served.get("/a2a").json()["agents"]}
        return agents if {a["health"] for a in agents.values()} == {"ready"} and len(agents) == 2 else None

    agents = harness.wait_until(both_ready, UPSTREAM_WAIT_S, lambda: f"both agents ready\n{served.proc.tail()}")
    assert set(agents) == {"planner", "researcher"}, agents
    events = anyio.run(sdk_send, agents["planner"]["card"], "plan a trip")
    assert events[-1]["message"]["parts"][0]["text"] == "echo: plan a trip", events


def check_llm(served: Served, copy: Path) -> None:
    """The official SDKs through the example's endpoint reach the providers it names."""
    import anthropic
    import openai

    chat = openai.OpenAI(base_url=served.url("/v1"), api_key="unused", max_retries=0, timeout=20)
    answer = chat.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hello example"}])
    assert answer.choices[0].message.content == "echo: hello example", answer
    assert {"openai/gpt-4.1", "anthropic/claude-sonnet-4-5", "fast"} <= {m.id for m in chat.models.list()}
    messages = anthropic.Anthropic(base_url=served.url(""), api_key="unused", max_retries=0, timeout=20)
    reply = messages.messages.create(model="anthropic/claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "salut"}])
    assert reply.content[0].text == "echo: salut", reply


CHECKS: dict[str, Check] = {
    "a2a": check_a2a,
    "llm": check_llm,
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
    agents = start_example_agents(copy, tmp_path / "agents") if name == "a2a" else []
    env: dict[str, str | None] = {}
    if name == "llm":
        agents, env = start_example_providers(copy, tmp_path / "providers")
    try:
        served = serve(copy / config.name, tmp_path / "logs", headers, env)
        yield name, served, copy, credentials
        served.proc.stop()
    finally:
        for agent in agents:
            agent.stop()


def start_example_providers(copy: Path, log_dir: Path) -> tuple[list[Any], dict[str, str | None]]:
    """Fake providers in place of the ones the LLM example names (their registry URLs pointed at
    them), and the key variables its entries read."""
    from llm_util import start_provider

    keys = {"openai": ("OPENAI_API_KEY", "sk-example-openai"), "anthropic": ("ANTHROPIC_API_KEY", "sk-ant-example")}
    fakes, env = [], {}
    for name, (variable, key) in keys.items():
        fake = start_provider(name, log_dir=log_dir, name=f"fake-{name}", key=key)
        fakes.append(fake)
        entry = copy / "registry" / f"{name}.yaml"
        doc = yaml.safe_load(entry.read_text())
        doc["llm"]["url"] = fake.base_url
        entry.write_text(yaml.safe_dump(doc, sort_keys=False))
        env[variable] = key
    return fakes, env


def start_example_agents(copy: Path, log_dir: Path) -> list[Any]:
    """The agents the A2A example's comment says to run, on free ports its registry is pointed at."""
    from a2a_util import start_agent

    modes = {"planner": "echo", "researcher": "stream"}
    agents = []
    for name, mode in modes.items():
        agent = start_agent(mode, name=name, log_dir=log_dir)
        agents.append(agent)
        entry = copy / "registry" / f"{name}.yaml"
        doc = yaml.safe_load(entry.read_text())
        doc["a2a"]["url"] = agent.url
        entry.write_text(yaml.safe_dump(doc, sort_keys=False))
    return agents


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


# === the default config, in place ===

# The npm packages a stand-in `npx` may run: where install-test-deps.sh put each, and the
# arguments it gets when the command gives none.
PINNED_NPX = {
    "@modelcontextprotocol/server-everything": ("SERVER_EVERYTHING_JS", ["stdio"]),
    "@modelcontextprotocol/server-filesystem": ("SERVER_FILESYSTEM_JS", []),
}


def npx_stand_in(bin_dir: Path) -> Path:
    """A directory holding an `npx` that runs the pinned local copy of a package on Node 22, for
    `npx [-y] PACKAGE[@VERSION] ARGS…` with VERSION the one installed; anything else fails."""
    t = harness.tools()
    arms = []
    for package, (key, default_args) in PINNED_NPX.items():
        version = json.loads((harness.REPO / ".tools" / "node_modules" / package / "package.json").read_text())["version"]
        defaults = f"[ $# -gt 0 ] || set -- {shlex.join(default_args)}; " if default_args else ""
        arms.append(
            f"  {package}|{package}@{version}) shift; {defaults}exec {shlex.quote(t['NODE22'])} {shlex.quote(t[key])} \"$@\" ;;"
        )
    script = "\n".join([
        "#!/bin/sh",
        "# npx for tests/e2e/test_examples.py: the pinned local copies only, no network.",
        '[ "$1" = "-y" ] && shift',
        'case "$1" in',
        *arms,
        '  *) echo "npx stand-in: $1 is not a package (and version) scripts/install-test-deps.sh installed" >&2; exit 127 ;;',
        "esac",
        "",
    ])
    bin_dir.mkdir(parents=True, exist_ok=True)
    npx = bin_dir / "npx"
    npx.write_text(script)
    npx.chmod(0o755)
    return bin_dir


@pytest.fixture(scope="module")
def served_default(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`agentmux serve --listen 127.0.0.1:0` in the repository root: no --config, so the default
    ./agentmux.yaml (AGENTMUX_CONFIG unset), with its registry/ and policies/ as they are."""
    tmp = tmp_path_factory.mktemp("default-config")
    bin_dir = npx_stand_in(tmp / "bin")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "AGENTMUX_CONFIG": None}
    proc, addr = harness.serve(["--listen", "127.0.0.1:0"], tmp / "logs", name="agentmux-default", cwd=harness.REPO, env=env)
    served = Served(proc, addr, {})
    yield served
    served.proc.stop()


def allowed_calls(served: Served) -> int:
    metrics = served.get("/metrics").text
    found = re.search(r'^agentmux_authz_decisions_total\{action="call_tool",decision="allow"\} (\d+)', metrics, re.MULTILINE)
    return int(found.group(1)) if found else 0


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_default_config_serves(served_default: Served, mode: str) -> None:
    served = served_default
    # Both upstreams are required: /readyz was 200, and the summary says they connected.
    wait_log(served, r"everything\s+connected")
    wait_log(served, r"\bfs\s+connected")
    allowed = allowed_calls(served)
    async with client(served.url("/mcp"), mode) as c:
        names = {t.name for t in await all_tools(c)}
        assert {"everything__echo", "fs__read_text_file"} <= names, sorted(names)
        # The filesystem server's write tools are excluded.
        assert not [n for n in names if n.startswith(("fs__write_", "fs__edit_", "fs__move_", "fs__create_"))], sorted(names)
        echoed = await c.call_tool("everything__echo", {"message": "default federation"})
        assert not echoed.is_error and "default federation" in " ".join(texts(echoed)), echoed
        # The filesystem server reads docs/ and nothing else.
        doc = await c.call_tool("fs__read_text_file", {"path": str(harness.REPO / "docs" / "policies.md")})
        assert not doc.is_error and "Cedar" in " ".join(texts(doc)), doc
        outside = await c.call_tool("fs__read_text_file", {"path": str(README)})
        assert outside.is_error, outside
    # The shipped policy set is in force and permits: every call was decided, and allowed by it.
    assert allowed_calls(served) >= allowed + 3
    served.proc.logged('"policies":["permit-all"]')  # an audit line names the shipped policy

