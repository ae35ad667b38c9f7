"""Resource URIs mean one thing: a URI whose path would resolve somewhere else than its text
says (`..`, `.`, percent-encoded separators and dots, backslashes) is refused before filters,
policies or the upstream see it, and `*` in a filter does not cross `/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import harness
import pytest
from raw_mcp import RawSession, RpcError

INVALID_PARAMS = -32602


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    dir: Path = tmp_path_factory.mktemp("uri-hub")
    fixture = {**harness.fixture_stdio_spec(), "resources": {"include": ["test://template/*/data"]}}
    hub = harness.start_hub(dir, {"fixture": fixture}, name="agentmux-uris")
    yield hub
    hub.stop()


def read_error(s: RawSession, uri: str) -> dict:
    with pytest.raises(RpcError) as e:
        s.request("resources/read", {"uri": uri})
    return e.value.error


@pytest.mark.parametrize("path", ["/mcp/fixture", "/mcp"])
def test_uris_that_resolve_elsewhere_are_refused(hub: harness.Hub, path: str) -> None:
    prefix = "" if path == "/mcp/fixture" else "agentmux://fixture/"
    with RawSession(hub.url(path)) as s:
        ok = s.request("resources/read", {"uri": f"{prefix}test://template/123/data"})
        assert '"id": "123"' in ok["contents"][0]["text"] or '"id":"123"' in ok["contents"][0]["text"], ok
        for uri in (
            "test://template/a/../../static/text/data",
            "test://template/./data",
            "test://template/%2e%2e/data",
            "test://template/a%2F..%2Fb/data",
            "test://template/a\\..\\b/data",
        ):
            error = read_error(s, prefix + uri)
            assert error["code"] == INVALID_PARAMS and "resource URI" in error["message"], (uri, error)
        # `*` stops at `/`: two segments where the filter allows one are not served.
        error = read_error(s, f"{prefix}test://template/a/b/data")
        assert error["code"] != INVALID_PARAMS or "unknown resource" in error["message"], error
        assert "unknown resource" in error["message"], error
        # A URI longer than 8 KiB is refused outright.
        error = read_error(s, f"{prefix}test://template/{'x' * 9000}/data")
        assert "longer than" in error["message"], error
