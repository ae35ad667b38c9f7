"""Inbound authentication: JWT bearer tokens from a JWKS file, API keys, OAuth challenges and
protected-resource metadata (RFC 9728), and proof that refused calls never reach an upstream.

Keys are made at test time with `cryptography`; tokens are signed with PyJWT, forged ones by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from raw_mcp import ACCEPT, VERSION, RawSession

ISS = "https://idp.e2e.test"
AUD = "agentmux-e2e"
KID = "k1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64url(json.dumps(value).encode())


class Keys:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # Another key the gateway does not trust: same kid, wrong signature.
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": ISS, "aud": AUD, "sub": "alice", "iat": now, "exp": now + 600, "groups": ["eng"], **overrides}

    def token(self, kid: str = KID, key: Any = None, **overrides: Any) -> str:
        return jwt.encode(self.claims(**overrides), key or self.private_pem, algorithm="RS256", headers={"kid": kid})


def new_api_key(tmp: Path) -> tuple[str, str]:
    """`agentmux key new`: the key it prints once, and the hash for the config."""
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    out = subprocess.run(
        [binary, "key", "new", "--name", "ci-bot", "--group", "ci"], capture_output=True, text=True, check=True, cwd=tmp
    ).stdout
    key = re.search(r"^\s+(amx_[A-Za-z0-9_-]{43})$", out, re.M)
    digest = re.search(r'hash: "(sha256:[0-9a-f]{64})"', out)
    assert key and digest, out
    assert digest.group(1) == "sha256:" + hashlib.sha256(key.group(1).encode()).hexdigest()
    return key.group(1), digest.group(1)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.FixtureServer]:
    server = harness.start_fixture_http(tmp_path_factory.mktemp("auth-fixture"), name="auth-fixture")
    yield server
    server.proc.stop()


@pytest.fixture(scope="module")
def api_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return new_api_key(tmp_path_factory.mktemp("auth-key"))


def start_auth_hub(dir: Path, keys: Keys, upstream: harness.FixtureServer, api_key_hash: str, **auth: Any) -> harness.Hub:
    dir.mkdir(parents=True, exist_ok=True)
    (dir / "jwks.json").write_text(json.dumps(keys.jwks()))
    settings = {
        "auth": {
            "issuers": [{"issuer": ISS, "audiences": [AUD], "jwks": "jwks.json", "algorithms": ["RS256"]}],
            "api_keys": [{"name": "ci-bot", "hash": api_key_hash, "groups": ["ci"]}],
            **auth,
        }
    }
    return harness.start_hub(dir, {"fixture": harness.http_spec(upstream.url)}, name="agentmux-auth", settings=settings)


def start_policy_hub(
    dir: Path, keys: Keys, policies: dict[str, str], upstreams: dict[str, Any], name: str, **settings: Any
) -> harness.Hub:
    """A hub that trusts `keys` as its JWT issuer and decides with `policies` (file name → text)."""
    (dir / "jwks.json").write_text(json.dumps(keys.jwks()))
    (dir / "policies").mkdir()
    for file, text in policies.items():
        (dir / "policies" / file).write_text(text)
    config = {
        "auth": {"issuers": [{"issuer": ISS, "audiences": [AUD], "jwks": "jwks.json"}]},
        "policies": "policies/",
        **settings,
    }
    return harness.start_hub(dir, upstreams, name=name, settings=config)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, keys: Keys, upstream: harness.FixtureServer, api_key: tuple[str, str]) -> Iterator[harness.Hub]:
    hub = start_auth_hub(tmp_path_factory.mktemp("auth-hub"), keys, upstream, api_key[1])
    yield hub
    hub.stop()


class AuthSession(RawSession):
    """A legacy-era session whose every request carries the given credential headers."""

    def __init__(self, url: str, credentials: dict[str, str]) -> None:
        self.credentials = credentials
        super().__init__(url)

    def headers(self) -> dict[str, str]:
        return {**super().headers(), **self.credentials}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    base = {"Content-Type": "application/json", "Accept": ACCEPT, "MCP-Protocol-Version": VERSION}
    return httpx.post(url, json=body, headers={**base, **headers}, timeout=10)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "auth-e2e", "version": "0"}},
}


def challenge(r: httpx.Response) -> dict[str, str]:
    header = r.headers.get("www-authenticate", "")
    assert header.startswith("Bearer "), f"HTTP {r.status_code}, WWW-Authenticate {header!r}"
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', header))


def assert_rpc_error(r: httpx.Response) -> None:
    body = r.json()
    assert body["jsonrpc"] == "2.0" and body["error"]["message"], body


def calls(session: RawSession) -> int:
    return session.request("tools/call", {"name": "fixture__count_calls", "arguments": {}})["structuredContent"]["count"]


# === discovery ===


@pytest.mark.parametrize(("path", "suffix"), [("/mcp", "/mcp"), ("/mcp/fixture", "/mcp/fixture")])
def test_no_token_gets_401_naming_the_metadata(hub: harness.Hub, path: str, suffix: str) -> None:
    r = post(hub.url(path), INITIALIZE, {})
    assert r.status_code == 401, r.text
    params = challenge(r)
    assert params["resource_metadata"] == f"{hub.base_url}/.well-known/oauth-protected-resource{suffix}"
    assert "error" not in params  # no token was presented, so none was invalid (RFC 6750 §3.1)
    assert_rpc_error(r)


def test_legacy_sse_routes_are_protected_too(hub: harness.Hub) -> None:
    r = httpx.get(hub.url("/sse"), headers={"Accept": "text/event-stream"}, timeout=10)
    assert r.status_code == 401
    assert challenge(r)["resource_metadata"] == f"{hub.base_url}/.well-known/oauth-protected-resource"


def test_metadata_document(hub: harness.Hub) -> None:
    url = challenge(post(hub.url("/mcp"), INITIALIZE, {}))["resource_metadata"]
    r = httpx.get(url, timeout=10)  # no credentials: discovery must work without them
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {
        "resource": hub.url("/mcp"),
        "authorization_servers": [ISS],
        "scopes_supported": [],
        "bearer_methods_supported": ["header"],
        "resource_name": "agentmux",
    }
    single = httpx.get(hub.url("/.well-known/oauth-protected-resource/mcp/fixture"), timeout=10).json()
    assert single["resource"] == hub.url("/mcp/fixture")
    assert httpx.get(hub.url("/.well-known/oauth-protected-resource"), timeout=10).status_code == 200
    assert httpx.get(hub.url("/.well-known/oauth-protected-resource/mcp/nope"), timeout=10).status_code == 404


# === tokens ===


def test_a_valid_token_initializes_and_lists_tools(hub: harness.Hub, keys: Keys) -> None:
    with AuthSession(hub.url("/mcp"), bearer(keys.token())) as s:
        names = [t["name"] for t in s.list_all("tools/list", "tools")]
        assert "fixture__count_calls" in names and "fixture__echo" in names


def forged(keys: Keys) -> dict[str, str]:
    claims = keys.claims()
    # HMAC keyed with the issuer's public key: verifies under a verifier that trusts the header's `alg`.
    hs_head = b64json({"alg": "HS256", "typ": "JWT", "kid": KID}) + "." + b64json(claims)
    hs_sig = b64url(hmac.new(keys.public_pem, hs_head.encode(), hashlib.sha256).digest())
    stranger_pem = keys.stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "alg-none": b64json({"alg": "none", "typ": "JWT", "kid": KID}) + "." + b64json(claims) + ".",
        "hs256-with-public-key": f"{hs_head}.{hs_sig}",
        "expired": keys.token(exp=int(time.time()) - 3600),
        "not-yet-valid": keys.token(nbf=int(time.time()) + 3600),
        "wrong-aud": keys.token(aud="someone-else"),
        "wrong-iss": keys.token(iss="https://evil.e2e.test"),
        "unknown-kid": keys.token(kid="k9"),
        "wrong-key": keys.token(key=stranger_pem),
        "garbage-jwt": "eyJhbGciOi.garbage.garbage",
        "garbage": "not-a-token",
    }


def test_forged_tokens_get_401_and_never_reach_the_upstream(hub: harness.Hub, keys: Keys) -> None:
    call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "fixture__echo", "arguments": {"text": "x"}}}
    modern_meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    modern = {**call, "params": {**call["params"], "_meta": modern_meta}}
    modern_headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "fixture__echo"}
    with AuthSession(hub.url("/mcp"), bearer(keys.token())) as s:
        before = calls(s)
        for name, token in forged(keys).items():
            # In a session a valid token opened, and stateless (2026-07-28), where no session stands in the way.
            for r in (
                post(hub.url("/mcp"), call, {**bearer(token), "Mcp-Session-Id": s.session_id or ""}),
                post(hub.url("/mcp"), modern, {**bearer(token), **modern_headers}),
                post(hub.url("/mcp/fixture"), {**call, "params": {"name": "echo", "arguments": {}}}, bearer(token)),
            ):
                assert r.status_code == 401, f"{name}: HTTP {r.status_code} {r.text[:300]}"
                params = challenge(r)
                assert params.get("error") == "invalid_token", f"{name}: {params}"
                assert params["resource_metadata"].startswith(hub.base_url + "/.well-known/oauth-protected-resource")
                assert token not in r.headers["www-authenticate"] and token not in r.text
                assert_rpc_error(r)
        # Only the counting call itself got through.
        assert calls(s) == before + 1
    log = hub.proc.logged("refused credentials")
    for token in forged(keys).values():
        if len(token) > 12:
            assert token not in log, "a token was logged"


# === API keys ===


def test_api_keys_work_as_bearer_or_header(hub: harness.Hub, api_key: tuple[str, str]) -> None:
    key = api_key[0]
    for credentials in (bearer(key), {"X-API-Key": key}):
        with AuthSession(hub.url("/mcp"), credentials) as s:
            assert any(t["name"] == "fixture__echo" for t in s.list_all("tools/list", "tools"))
    r = post(hub.url("/mcp"), INITIALIZE, {"X-API-Key": key[:-1] + ("A" if key[-1] != "A" else "B")})
    assert r.status_code == 401 and challenge(r)["error"] == "invalid_token"


# === scopes ===


@pytest.fixture(scope="module")
def scoped_hub(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, upstream: harness.FixtureServer, api_key: tuple[str, str]
) -> Iterator[harness.Hub]:
    hub = start_auth_hub(tmp_path_factory.mktemp("auth-scoped"), keys, upstream, api_key[1], required_scopes=["mcp:tools"])
    yield hub
    hub.stop()


def test_missing_scope_gets_403_insufficient_scope(scoped_hub: harness.Hub, keys: Keys) -> None:
    r = post(scoped_hub.url("/mcp"), INITIALIZE, bearer(keys.token(scope="mcp:read")))
    assert r.status_code == 403, r.text
    params = challenge(r)
    assert params["error"] == "insufficient_scope" and params["scope"] == "mcp:tools", params
    assert params["resource_metadata"] == f"{scoped_hub.base_url}/.well-known/oauth-protected-resource/mcp"
    assert_rpc_error(r)

    # The 401 tells clients which scope to ask for up front, and so does the metadata.
    assert challenge(post(scoped_hub.url("/mcp"), INITIALIZE, {}))["scope"] == "mcp:tools"
    meta = httpx.get(scoped_hub.url("/.well-known/oauth-protected-resource/mcp"), timeout=10).json()
    assert meta["scopes_supported"] == ["mcp:tools"]

    with AuthSession(scoped_hub.url("/mcp"), bearer(keys.token(scope="mcp:read mcp:tools"))) as s:
        assert s.list_all("tools/list", "tools")
