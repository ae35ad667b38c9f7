"""The command line: `agentmux validate`, `agentmux tools`, `agentmux stdio`.

`validate` must exit 1 and name every problem as `FILE:LINE: message`; `tools` connects and
prints the merged catalog; `stdio` serves the federated endpoint as newline-delimited JSON-RPC
on stdin/stdout (stdout carries nothing else). Every shipped example config validates.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
import pytest
import yaml
from proctree import describe, descendants, wait_gone

EXAMPLES = harness.REPO / "examples"
MISSING_VAR = "AGENTMUX_E2E_SURELY_UNSET_VARIABLE"
CLI_TIMEOUT_S = 60.0
STDIO_READ_TIMEOUT_S = 30.0


def run_cli(*args: str | os.PathLike[str], cwd: Path, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    """`agentmux ARGS` in `cwd`; `env` adds variables, and a `None` value removes one."""
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    full_env: dict[str, str | None] = {k: v for k, v in os.environ.items() if k != MISSING_VAR}
    full_env.update(env or {})
    return subprocess.run(
        [str(binary), *map(str, args)],
        cwd=cwd,
        env={k: v for k, v in full_env.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        start_new_session=True,
    )


def write_config(root: Path, registry: dict[str, str], config: dict[str, Any] | None = None) -> Path:
    (root / "registry").mkdir(parents=True, exist_ok=True)
    for name, text in registry.items():
        (root / "registry" / name).write_text(text)
    path = root / "agentmux.yaml"
    path.write_text(yaml.safe_dump({"listen": "127.0.0.1:0", "registry": "registry/", **(config or {})}))
    return path


# === validate ===


def test_validate_good_config(tmp_path: Path) -> None:
    fixture = harness.require_binary(harness.FIXTURE_BIN, "agentmux-fixture")
    config = write_config(
        tmp_path,
        {
            "fixture.yaml": yaml.safe_dump(harness.fixture_stdio_spec()),
            "remote.yaml": "mcp:\n  url: http://127.0.0.1:9/mcp\n  headers: { X-Token: '${env:AGENTMUX_E2E_TOKEN}' }\n",
            ".mcp.json": json.dumps({"mcpServers": {"Local Fixture": {"command": str(fixture), "args": ["--transport", "stdio"]}}}),
            "planner.yaml": "a2a:\n  url: http://127.0.0.1:9\ntools:\n  exclude: ['admin-*']\n",
        },
        {"mcp": {"prefix": "conditional", "max_name_length": 64, "page_size": 10}},
    )
    r = run_cli("validate", "--config", config, cwd=tmp_path, env={"AGENTMUX_E2E_TOKEN": "t0k3n"})
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "3 upstreams, 1 A2A agents, 0 LLM providers" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "t0k3n" not in r.stdout + r.stderr, "validate printed a secret's value"


@dataclass(frozen=True)
class Problem:
    file: str  # relative to the config's directory, as validate prints it
    line: int
    says: str  # a regex the message must match


BAD_REGISTRY = {
    # line 4: a misspelt key
    "unknown-key.yaml": "# an upstream with a typo\nmcp:\n  command: /bin/true\n  arggs: ['x']\n",
    # line 4: a variable that is not set
    "missing-env.yaml": (
        "mcp:\n  url: http://127.0.0.1:9/mcp\n  headers:\n"
        f"    Authorization: 'Bearer ${{env:{MISSING_VAR}}}'\n"
    ),
    # line 2: a name outside [a-z0-9][a-z0-9-]*
    "bad-name.yaml": "# the name below has capitals and an underscore\nname: Bad_Name\nmcp:\n  command: /bin/true\n",
}
PROBLEMS = {
    "unknown key": Problem("registry/unknown-key.yaml", 4, r"arggs"),
    "missing variable": Problem("registry/missing-env.yaml", 4, re.escape(MISSING_VAR)),
    "bad upstream name": Problem("registry/bad-name.yaml", 2, r"Bad_Name"),
}


@pytest.fixture(scope="module")
def bad_validate(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    root = tmp_path_factory.mktemp("validate-bad")
    write_config(root, BAD_REGISTRY)
    return run_cli("validate", "--config", "agentmux.yaml", cwd=root)


def test_validate_bad_registry_exits_1(bad_validate: subprocess.CompletedProcess[str]) -> None:
    assert bad_validate.returncode == 1, (bad_validate.returncode, bad_validate.stdout, bad_validate.stderr)
    # Every problem is reported in one run, not just the first.
    out = bad_validate.stdout + bad_validate.stderr
    for problem in PROBLEMS.values():
        assert problem.file in out, f"{problem.file} not named:\n{out}"


@pytest.mark.parametrize(
    "problem",
    [
        pytest.param(PROBLEMS["unknown key"], id="unknown-key"),
        pytest.param(PROBLEMS["missing variable"], id="missing-env"),
        pytest.param(PROBLEMS["bad upstream name"], id="bad-name"),
    ],
)
def test_validate_names_file_and_line(bad_validate: subprocess.CompletedProcess[str], problem: Problem) -> None:
    out = bad_validate.stdout + bad_validate.stderr
    pattern = re.compile(rf"{re.escape(problem.file)}:{problem.line}: .*{problem.says}")
    assert any(pattern.search(line) for line in out.splitlines()), (
        f"no line `{problem.file}:{problem.line}: …{problem.says}…` in:\n{out}"
    )


def test_validate_unknown_key_in_main_config(tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir()
    (tmp_path / "agentmux.yaml").write_text("listen: 127.0.0.1:0\nregistry: registry/\nmcp:\n  prefix: always\n  colour: blue\n")
    r = run_cli("validate", "--config", "agentmux.yaml", cwd=tmp_path)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert re.search(r"agentmux\.yaml:5: .*colour", r.stdout + r.stderr), r.stdout + r.stderr


def example_configs() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("agentmux*.yaml") if "registry" not in p.parts)


def test_examples_exist() -> None:
    assert example_configs(), f"no agentmux*.yaml under {EXAMPLES}"


@pytest.mark.parametrize("config", example_configs(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_config_validates(config: Path, tmp_path: Path) -> None:
    # From an unrelated directory: paths in the config are relative to the config file.
    # The LLM example reads its provider keys from the environment, as a user's shell gives them.
    keys = {"OPENAI_API_KEY": "sk-validate", "ANTHROPIC_API_KEY": "sk-ant-validate"}
    r = run_cli("validate", "--config", config, cwd=tmp_path, env=keys)
    assert r.returncode == 0, f"{config}: exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"


def test_default_config_validates_with_no_flags() -> None:
    # `agentmux validate` in the repository root reads ./agentmux.yaml, its registry/ and policies/.
    r = run_cli("validate", cwd=harness.REPO, env={"AGENTMUX_CONFIG": None})
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "policies parse" in r.stdout, r.stdout


# === tools ===


def test_tools_prints_namespaced_catalog(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"fixture.yaml": yaml.safe_dump(harness.fixture_stdio_spec())})
    r = run_cli("tools", "--config", config, cwd=tmp_path)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    names = [line.split()[0] for line in r.stdout.splitlines() if line.startswith((" ", "\t")) and line.strip()]
    for expected in ("fixture__echo", "fixture__slow", "fixture__count_calls", "fixture__test_simple_text"):
        assert expected in names, f"{expected} not printed:\n{r.stdout}"
    # Prompts are namespaced the same way.
    assert "fixture__test_simple_prompt" in names, r.stdout
    tool_names = [n for n in names if not n.startswith("agentmux://")]
    assert all(n.startswith("fixture__") for n in tool_names), r.stdout


# === stdio ===


class StdioClient:
    """`agentmux stdio --config …` with JSON-RPC lines on its stdin and stdout."""

    def __init__(self, config: Path, log_dir: Path) -> None:
        binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
        self.stderr_path = log_dir / "agentmux-stdio.stderr.log"
        self._stderr = open(self.stderr_path, "wb")
        self.popen = subprocess.Popen(
            [str(binary), "stdio", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=config.parent,
            start_new_session=True,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.raw_stdout: list[bytes] = []
        threading.Thread(target=self._read, daemon=True, name="stdio-stdout").start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.raw_stdout.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(json.dumps(message).encode() + b"\n")
        self.popen.stdin.flush()

    def receive(self, timeout: float = STDIO_READ_TIMEOUT_S) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from agentmux stdio within {timeout}s\n{self.stderr_tail()}") from None
        assert line is not None, f"agentmux stdio closed stdout (exit {self.popen.poll()})\n{self.stderr_tail()}"
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"stdout line is not JSON: {line!r}") from None

    def request(self, id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            reply = self.receive()
            if reply.get("id") == id:
                assert reply.get("jsonrpc") == "2.0", reply
                return reply
            assert "method" in reply and "id" not in reply, f"unexpected message: {reply}"

    def stderr_tail(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, 9)
            except ProcessLookupError:
                pass
        self.popen.wait(timeout=10)
        self._stderr.close()


@pytest.fixture
def stdio_client(tmp_path: Path) -> Iterator[StdioClient]:
    config = write_config(tmp_path, {"fixture.yaml": yaml.safe_dump(harness.fixture_stdio_spec())})
    c = StdioClient(config, tmp_path)
    yield c
    c.close()


def test_stdio_mode_speaks_jsonrpc_lines(stdio_client: StdioClient) -> None:
    c = stdio_client
    init = c.request(
        1,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "agentmux-e2e-stdio", "version": "0"}},
    )
    assert "result" in init, init
    assert init["result"]["protocolVersion"] == "2025-11-25", init
    assert "tools" in init["result"]["capabilities"], init
    c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    listed = c.request(2, "tools/list")
    names = [t["name"] for t in listed["result"]["tools"]]
    assert "fixture__echo" in names and "fixture__slow" in names, names
    assert all(n.startswith("fixture__") for n in names), names

    called = c.request(3, "tools/call", {"name": "fixture__echo", "arguments": {"text": "over stdio"}})
    assert called["result"]["content"] == [{"type": "text", "text": "over stdio"}], called
    assert not called["result"].get("isError"), called

    # String ids come back as strings.
    structured = c.request("four", "tools/call", {"name": "fixture__count_calls", "arguments": {}})  # type: ignore[arg-type]
    assert structured["id"] == "four"
    assert structured["result"]["structuredContent"]["count"] >= 2, structured

    unknown = c.request(5, "tools/call", {"name": "nosuch__echo", "arguments": {}})
    assert "error" in unknown, unknown

    # Every stdout line so far was one JSON-RPC message: no logs on stdout.
    for line in c.raw_stdout:
        assert json.loads(line).get("jsonrpc") == "2.0", line


def test_stdio_mode_exits_when_stdin_closes(stdio_client: StdioClient) -> None:
    c = stdio_client
    init = c.request(
        1,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "agentmux-e2e-stdio", "version": "0"}},
    )
    assert "result" in init, init
    c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert c.request(2, "ping")["result"] == {}
    tree = descendants(c.popen.pid)
    assert any(p.cmdline.startswith(str(harness.FIXTURE_BIN)) for p in tree), describe(tree)
    assert c.popen.stdin is not None
    c.popen.stdin.close()
    try:
        code = c.popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"agentmux stdio still running 5s after stdin closed\n{c.stderr_tail()}") from None
    assert code == 0, f"exit {code}\n{c.stderr_tail()}"
    # Its stdio upstream went with it.
    left = wait_gone(tree, 5.0)
    assert not left, f"agentmux stdio exited but left running:\n{describe(left)}"
