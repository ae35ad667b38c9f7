"""IDE config files in the registry directory are read as-is.

registry/.mcp.json holds a Claude Code / Claude Desktop / Cursor `mcpServers` object, and
registry/mcp.json a VS Code `servers` object (with the `inputs` VS Code files carry). Entry names
are normalized to upstream names: lower-cased, other characters → `-`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest
from mcp_util import MODES, all_tools, client, texts

pytestmark = pytest.mark.anyio

ENV_MARK = ("AGENTMUX_E2E_JSON_ENV", "from-the-mcpServers-file")
# entry name in the IDE file → upstream name agentmux must derive
NORMALIZED = {
    "My Fixture": "my-fixture",
    "Remote Fixture": "remote-fixture",
    "Everything": "everything",
    "VS_Code.Fixture": "vs-code-fixture",
}


def fixture_entry() -> dict[str, object]:
    binary = harness.require_binary(harness.FIXTURE_BIN, "agentmux-fixture")
    return {"command": str(binary), "args": ["--transport", "stdio"]}


def claude_file(remote_url: str) -> str:
    t = harness.tools()
    return json.dumps(
        {
            "mcpServers": {
                "My Fixture": fixture_entry(),
                "Remote Fixture": {"type": "http", "url": remote_url},
                "Everything": {
                    "command": t["NODE22"],
                    "args": [t["SERVER_EVERYTHING_JS"], "stdio"],
                    "env": dict([ENV_MARK]),
                },
            }
        },
        indent=2,
    )


def vscode_file() -> str:
    return json.dumps(
        {
            "inputs": [{"type": "promptString", "id": "api-key", "description": "API key", "password": True}],
            "servers": {"VS_Code.Fixture": {"type": "stdio", **fixture_entry()}},
        },
        indent=2,
    )


@pytest.fixture(scope="module")
def ide_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    logs = tmp_path_factory.mktemp("ide-registry")
    remote = harness.start_fixture_http(logs, "fixture-remote")
    hub = None
    try:
        hub = harness.start_hub(
            logs / "hub",
            {},
            name="agentmux-ide",
            registry_files={".mcp.json": claude_file(remote.url), "mcp.json": vscode_file()},
        )
        yield hub
    finally:
        if hub is not None:
            hub.stop()
        remote.proc.stop()


@pytest.mark.parametrize("mode", MODES)
async def test_ide_entries_become_normalized_upstreams(ide_hub: harness.Hub, mode: str) -> None:
    async with client(ide_hub.url("/mcp"), mode) as c:
        names = [t.name for t in await all_tools(c)]
        prefixes = {n.split("__", 1)[0] for n in names}
        assert prefixes == set(NORMALIZED.values()), sorted(prefixes)
        for upstream in ("my-fixture", "remote-fixture", "vs-code-fixture"):
            tool = f"{upstream}__echo"
            assert tool in names, f"{tool} missing from {sorted(names)}"
            result = await c.call_tool(tool, {"text": f"via {upstream}"})
            assert texts(result) == [f"via {upstream}"], result
        echo = await c.call_tool("everything__echo", {"message": "json registry"})
        assert texts(echo) == ["Echo: json registry"]


async def test_env_of_a_json_entry_reaches_the_server(ide_hub: harness.Hub) -> None:
    async with client(ide_hub.url("/mcp"), "legacy") as c:
        env = await c.call_tool("everything__get-env", {})
    assert json.loads(texts(env)[0]).get(ENV_MARK[0]) == ENV_MARK[1]


@pytest.mark.parametrize("upstream", ["my-fixture", "vs-code-fixture"])
async def test_single_upstream_endpoint_uses_normalized_name(ide_hub: harness.Hub, upstream: str) -> None:
    async with client(ide_hub.url(f"/mcp/{upstream}"), "legacy") as c:
        names = [t.name for t in await all_tools(c)]
        assert "echo" in names and not [n for n in names if "__" in n], names
        assert texts(await c.call_tool("echo", {"text": "single"})) == ["single"]


def test_normalized_name_clash_is_an_error_naming_both(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"My Fixture": fixture_entry(), "my_fixture": fixture_entry()}})
    )
    (tmp_path / "agentmux.yaml").write_text("listen: 127.0.0.1:0\nregistry: registry/\n")
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    r = subprocess.run(
        [str(binary), "validate", "--config", "agentmux.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 1, (r.returncode, out)
    assert "My Fixture" in out and "my_fixture" in out, f"the clash does not name both entries:\n{out}"
    assert ".mcp.json" in out, out


def test_clash_between_yaml_and_json_names_both_files(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "my-fixture.yaml").write_text(json.dumps(harness.fixture_stdio_spec()))
    (registry / ".mcp.json").write_text(json.dumps({"mcpServers": {"My Fixture": fixture_entry()}}))
    (tmp_path / "agentmux.yaml").write_text("listen: 127.0.0.1:0\nregistry: registry/\n")
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    r = subprocess.run(
        [str(binary), "validate", "--config", "agentmux.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    out = r.stdout + r.stderr
    assert r.returncode == 1, (r.returncode, out)
    assert "my-fixture.yaml" in out and ".mcp.json" in out, f"the clash does not name both files:\n{out}"
