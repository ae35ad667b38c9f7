"""The MCP Inspector CLI (@modelcontextprotocol/inspector 2.x, `--cli` mode, Node 22) through the hub.

Command line used (see scripts/test-deps/package.json for the pinned version):
  node22 .tools/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js \
    --cli URL --transport http --protocol-era legacy|auto --method tools/list --format json
It prints one JSON object on stdout: {"result": {...}} on success, {"error": {...}} and a
non-zero exit code otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import harness
import pytest

FIXTURE_TEXT = "This is a simple text response for testing."
ERAS = ("legacy", "auto")


def inspector(url: str, era: str, home: Path, *args: str) -> dict[str, Any]:
    t = harness.tools()
    argv = [t["NODE22"], t["INSPECTOR_JS"], "--cli", url, "--transport", "http", "--protocol-era", era]
    argv += [*args, "--format", "json", "--connect-timeout", "20000"]
    env = {
        **os.environ,
        # The launcher and the CLI it starts run on Node 22 too.
        "PATH": f"{t['NODE22_BIN_DIR']}{os.pathsep}{os.environ.get('PATH', '')}",
        # The Inspector keeps a catalog and client config under $HOME/.mcp-inspector.
        "HOME": str(home),
        "MCP_CATALOG_PATH": str(home / "mcp.json"),
        "MCP_CLIENT_CONFIG_PATH": str(home / "client.json"),
        "NO_COLOR": "1",
        "CI": "true",
    }
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=90, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (
        f"inspector exited {proc.returncode}\nargv: {argv}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"inspector stdout is not one JSON object: {proc.stdout[-2000:]!r}") from None


def tool_names(out: dict[str, Any]) -> list[str]:
    return [t["name"] for t in out["result"]["tools"]]


def text_blocks(out: dict[str, Any]) -> list[str]:
    return [b["text"] for b in out["result"]["content"] if b.get("type") == "text"]


@pytest.mark.parametrize("era", ERAS)
def test_inspector_lists_and_calls_federated_tools(hub: harness.Hub, tmp_path: Path, era: str) -> None:
    names = tool_names(inspector(hub.url("/mcp"), era, tmp_path, "--method", "tools/list"))
    assert "everything__echo" in names and "fixture__test_simple_text" in names, names

    out = inspector(
        hub.url("/mcp"),
        era,
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "everything__echo",
        "--tool-arg",
        "message=inspected",
    )
    assert text_blocks(out) == ["Echo: inspected"], out

    out = inspector(hub.url("/mcp"), era, tmp_path, "--method", "tools/call", "--tool-name", "fixture__test_simple_text")
    assert text_blocks(out) == [FIXTURE_TEXT], out


@pytest.mark.parametrize("era", ERAS)
def test_inspector_on_single_upstream_endpoint(hub: harness.Hub, tmp_path: Path, era: str) -> None:
    names = tool_names(inspector(hub.url("/mcp/fixture"), era, tmp_path, "--method", "tools/list"))
    assert "test_simple_text" in names, names
    assert not [n for n in names if n.startswith("fixture__")], names

    out = inspector(hub.url("/mcp/fixture"), era, tmp_path, "--method", "tools/call", "--tool-name", "test_simple_text")
    assert text_blocks(out) == [FIXTURE_TEXT], out
