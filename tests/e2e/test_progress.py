"""Progress notifications of a stdio upstream reach the client through the hub."""

from __future__ import annotations

import harness
import pytest
from mcp_util import MODES, client, texts

pytestmark = pytest.mark.anyio

# server-everything 2026.8.31: `trigger-long-running-operation` {duration (s), steps}
# sends notifications/progress {progress: i, total: steps} after each step when the
# request carries a progressToken.
LONG_RUNNING = "trigger-long-running-operation"
STEPS = 4


@pytest.mark.parametrize("path", ["/mcp", "/mcp/everything"])
@pytest.mark.parametrize("mode", MODES)
async def test_progress_notifications_pass_through(hub: harness.Hub, mode: str, path: str) -> None:
    tool = f"everything__{LONG_RUNNING}" if path == "/mcp" else LONG_RUNNING
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with client(hub.url(path), mode) as c:
        result = await c.call_tool(tool, {"duration": 0.4, "steps": STEPS}, progress_callback=on_progress)

    assert not result.is_error, result
    assert texts(result) == [f"Long running operation completed. Duration: 0.4 seconds, Steps: {STEPS}."]
    assert [p for p, _, _ in seen] == [float(i) for i in range(1, STEPS + 1)], seen
    assert all(total == STEPS for _, total, _ in seen), seen
