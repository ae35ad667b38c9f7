"""agentmux's own credentials toward an upstream: the OAuth 2.0 client credentials grant.

A token endpoint runs in this process (`TokenServer`: issues short-lived tokens, counts
requests, answers RFC 7662 introspection). The upstream is servers/py_server.py with
`--require-bearer`: it accepts only tokens the endpoint calls active and writes down every
Authorization header it sees. Through agentmux, clients (which send a token of their own) list
and call the upstream's tools; the upstream sees only the endpoint's tokens, one token serves
many calls, a refused token is renewed once, and a wrong client secret fails the upstream with
a reason that names it.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import harness
import pytest
from raw_mcp import RawSession

UP = "secure"
CLIENT_ID = "agentmux-e2e"
CLIENT_SECRET = "s3cr:t/with spaces"  # form-encoded before Basic (RFC 6749 §2.3.1)
CLIENT_TOKEN = "client-token-that-must-stay-at-the-gateway"
# agentmux renews a token the upstream refused only once it is this old (its MIN_AGE_TO_RENEW,
# in the upstream credentials module).
MIN_AGE_TO_RENEW_S = 1.0
FORECAST = {
    "city": "Oslo",
    "temperature_c": 21.5,
    "conditions": ["sunny", "windy"],
    "details": {"humidity": 40, "days": 1},
}


# === the token endpoint ===


class TokenServer:
    """`POST /token` (client credentials, HTTP Basic) and `POST /introspect` on a loopback port."""

    def __init__(self, expires_in: int) -> None:
        self.expires_in = expires_in
        self.lock = threading.Lock()
        self.issued: dict[str, float] = {}  # token → expiry (monotonic)
        self.last_issued_at = 0.0  # when the newest token was issued (monotonic)
        self.forms: list[dict[str, list[str]]] = []  # each token request's form
        self.refusals = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                if self.path == "/token":
                    status, body = owner.token(self.headers.get("authorization", ""), form)
                elif self.path == "/introspect":
                    status, body = 200, {"active": owner.active(form.get("token", [""])[0])}
                else:
                    status, body = 404, {"error": "not_found"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, name="token-server", daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    @property
    def hits(self) -> int:
        with self.lock:
            return len(self.forms) + self.refusals

    def token(self, authorization: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        scheme, _, encoded = authorization.partition(" ")
        client_id, _, secret = base64.b64decode(encoded or "").decode().partition(":") if scheme == "Basic" else ("", "", "")
        if (unquote_plus(client_id), unquote_plus(secret)) != (CLIENT_ID, CLIENT_SECRET):
            with self.lock:
                self.refusals += 1
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        token = f"tok-{secrets.token_urlsafe(12)}"
        with self.lock:
            self.forms.append(form)
            self.last_issued_at = time.monotonic()
            self.issued[token] = self.last_issued_at + self.expires_in
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}

    def active(self, token: str) -> bool:
        with self.lock:
            return time.monotonic() < self.issued.get(token, 0.0)

    def issued_tokens(self) -> set[str]:
        with self.lock:
            return set(self.issued)

    def revoke_all(self) -> None:
        with self.lock:
            self.issued.clear()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


# === the setup: token endpoint, protected upstream, hub ===


@dataclass
class Setup:
    tokens: TokenServer
    server: harness.PyServer
    hub: harness.Hub
    auth_log: Path

    def seen(self) -> list[dict[str, Any]]:
        """What the upstream saw: one entry per HTTP request."""
        if not self.auth_log.exists():
            return []
        return [json.loads(line) for line in self.auth_log.read_text().splitlines()]

    def stop(self) -> None:
        self.hub.stop()
        self.server.proc.stop()
        self.tokens.close()


def start(logs: Path, transport: str, *, expires_in: int = 300, secret: str = CLIENT_SECRET) -> Setup:
    tokens = TokenServer(expires_in)
    auth_log = logs / "upstream-auth.jsonl"
    server = harness.start_py_server(
        logs,
        f"py-protected-{transport}",
        sse=transport == "sse",
        extra_args=["--require-bearer", f"{tokens.base}/introspect", "--auth-log", str(auth_log)],
    )
    path = "/sse" if transport == "sse" else "/mcp"
    spec = {
        "mcp": {
            "url": f"http://127.0.0.1:{server.port}{path}",
            "transport": transport,
            "oauth": {
                "token_url": f"{tokens.base}/token",
                "client_id": CLIENT_ID,
                "client_secret": "${file:client-secret.txt}",
                "scopes": ["mcp:read", "mcp:call"],
                "audience": "py-upstream",
                "resource": f"http://127.0.0.1:{server.port}{path}",
            },
        }
    }
    try:
        hub = harness.start_hub(
            logs / "hub",
            {UP: spec},
            name=f"agentmux-oauth-{transport}",
            # Not an upstream (registry directories read only .yaml/.yml/.json files).
            registry_files={"client-secret.txt": secret + "\n"},
        )
    except BaseException:
        server.proc.stop()
        tokens.close()
        raise
    return Setup(tokens, server, hub, auth_log)


class ClientWithToken(RawSession):
    """A client that sends agentmux a bearer token of its own, as an IDE signed in to an IdP would."""

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Authorization": f"Bearer {CLIENT_TOKEN}"}


@pytest.fixture(scope="module", params=["streamable-http", "sse"])
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = start(tmp_path_factory.mktemp(f"oauth-{request.param}"), request.param)
    yield s
    s.stop()


def call_forecast(session: RawSession) -> dict[str, Any]:
    result = session.request("tools/call", {"name": f"{UP}__forecast", "arguments": {"city": "Oslo"}})
    assert not result.get("isError"), result
    return result


# === tests ===


def test_tools_are_listed_and_called_with_the_gateways_token(setup: Setup) -> None:
    with ClientWithToken(setup.hub.url("/mcp")) as s:
        names = [t["name"] for t in s.list_all("tools/list", "tools")]
        assert f"{UP}__forecast" in names, names
        for _ in range(3):
            assert call_forecast(s)["structuredContent"] == FORECAST

    seen = setup.seen()
    assert seen, "the upstream saw no request"
    issued = {f"Bearer {t}" for t in setup.tokens.issued_tokens()}
    assert all(e["authorization"] in issued for e in seen), [e["authorization"] for e in seen]
    assert not any(CLIENT_TOKEN in e["authorization"] for e in seen)
    assert all(e["accepted"] for e in seen), seen
    # One token for the connection, the lists and every call.
    assert setup.tokens.hits == 1, setup.tokens.forms
    form = setup.tokens.forms[0]
    assert form["scope"] == ["mcp:read mcp:call"], form
    assert form["audience"] == ["py-upstream"], form
    assert form["resource"][0].startswith("http://127.0.0.1:"), form
    assert "client_secret" not in form, "auth_method basic keeps the secret out of the form"


def test_a_refused_token_is_renewed_once_and_the_request_resent(setup: Setup) -> None:
    with ClientWithToken(setup.hub.url("/mcp")) as s:
        call_forecast(s)  # a token in use
        # agentmux renews a refused token only once it is older than MIN_AGE_TO_RENEW_S (a younger
        # one may be refused for another reason): wait until the token in use is that old,
        # counted from when it was issued (at setup, usually long before).
        old_enough = setup.tokens.last_issued_at + MIN_AGE_TO_RENEW_S + 0.05
        harness.wait_until(lambda: time.monotonic() >= old_enough, MIN_AGE_TO_RENEW_S + 5, "the token in use to age past 1 s")
        hits = setup.tokens.hits
        before = len(setup.seen())
        setup.tokens.revoke_all()  # e.g. the IdP rotated keys: the upstream refuses the old token
        assert call_forecast(s)["structuredContent"] == FORECAST
        assert call_forecast(s)["structuredContent"] == FORECAST

    assert setup.tokens.hits == hits + 1
    after = setup.seen()[before:]
    refused = [e for e in after if not e["accepted"]]
    assert len(refused) == 1, after
    assert all(e["authorization"] == f"Bearer {next(iter(setup.tokens.issued_tokens()))}" for e in after if e["accepted"])


def test_short_lived_tokens_are_renewed_before_they_expire(tmp_path: Path) -> None:
    setup = start(tmp_path, "streamable-http", expires_in=3)
    try:
        with ClientWithToken(setup.hub.url("/mcp")) as s:
            # Calls every 0.25 s until agentmux has renewed its 3 s token and sent the new one; a
            # renewal that waited for the expiry would show as a refused call below.
            def renewed_and_sent() -> bool:
                call_forecast(s)
                return setup.tokens.hits >= 2 and len({e["authorization"] for e in setup.seen()}) >= 2

            harness.wait_until(renewed_and_sent, 20, "agentmux to renew its 3 s token and send the new one", interval=0.25)
        # Renewal at 90% of the lifetime: no request is ever refused for an expired token.
        assert setup.tokens.hits >= 2, setup.tokens.hits
        seen = setup.seen()
        assert all(e["accepted"] for e in seen), [e for e in seen if not e["accepted"]]
        assert len({e["authorization"] for e in seen}) == setup.tokens.hits
    finally:
        setup.stop()


def test_a_wrong_client_secret_fails_the_upstream_with_the_oauth_error(tmp_path: Path) -> None:
    wrong = "not-the-secret"
    setup = start(tmp_path, "streamable-http", secret=wrong)
    try:
        # /readyz is 200 once the upstream has been tried; the summary and the log say why it failed.
        token_url = f"{setup.tokens.base}/token"
        reason = f"upstream {UP}: token endpoint {token_url} answered 401: invalid_client (client authentication failed)"
        proc = setup.hub.proc
        def summarized() -> str | None:
            out = proc.stdout_path.read_text() + proc.stderr_path.read_text()
            return out if "FAILED" in out else None

        # The summary is printed just after /readyz turns 200.
        out = harness.wait_until(summarized, 10, "the upstream's FAILED summary line")
        summary = [line for line in out.splitlines() if "FAILED" in line]
        assert len(summary) == 1 and UP in summary[0] and reason in summary[0], proc.tail()
        proc.logged(reason)  # the log names the upstream and the OAuth error
        assert wrong not in out, "the secret reached the logs"
        assert setup.tokens.hits >= 1
        # Without a token agentmux sends the upstream nothing at all.
        assert setup.seen() == []
        with ClientWithToken(setup.hub.url("/mcp")) as s:
            names = [t["name"] for t in s.list_all("tools/list", "tools")]
            assert not any(n.startswith(f"{UP}__") for n in names), names
    finally:
        setup.stop()
