"""LLM helpers for the end-to-end tests: the fake providers (fixtures/llm/provider.py), and the
client-side pieces no pinned SDK provides: an SSE reader, an AWS event-stream decoder and a SigV4
signer, each written from its spec here, apart from the fakes' own code, so a test that pairs
them checks both sides.

    fake = start_provider("anthropic", key="sk-ant-test", models=["claude-sonnet-4-5"])
    proc, base_url = fake        # base_url is what the provider's SDK calls its base URL
    fake.control(mode="rate_limit", retry_after=2, times=1)
    fake.requests()              # what reached it, see the fake's docstring
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

import harness
import httpx

PROVIDER_PY = harness.REPO / "fixtures" / "llm" / "provider.py"
PROVIDER_START_TIMEOUT_S = 30.0
_READY = re.compile(r"^ready (\d+)$", re.M)
# The path each provider's SDK appends its routes to.
SDK_BASE_PATH = {"openai": "/v1", "azure": "", "anthropic": "", "gemini": "", "bedrock": ""}


# === the fake providers ===


class Provider(NamedTuple):
    """A running fake; unpacks as `(proc, base_url)`."""

    proc: harness.Proc
    base_url: str

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT, the root every API path hangs from."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def control(self, **settings: Any) -> dict[str, Any]:
        r = httpx.post(self.url + "/_control", json=settings, timeout=10)
        r.raise_for_status()
        return r.json()

    def settings(self) -> dict[str, Any]:
        return httpx.get(self.url + "/_control", timeout=10).json()

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(self.url + "/_requests", timeout=10).json()

    def clear(self) -> None:
        """Back to the settings it started with, and no request recorded."""
        httpx.delete(self.url + "/_requests", timeout=10).raise_for_status()
        httpx.delete(self.url + "/_control", timeout=10).raise_for_status()

    def stop(self) -> None:
        self.proc.stop()


def start_provider(api: str, *, log_dir: Path | None = None, name: str | None = None, **flags: Any) -> Provider:
    """Runs fixtures/llm/provider.py for `api` on a kernel-picked port and waits for `ready PORT`.
    Keyword flags become CLI flags (`retry_after=2` → `--retry-after 2`; a list is joined with
    commas, True is a bare flag). Stop it with `.stop()`; conftest shows its log on a failure."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix=f"llm-{api}-"))
    argv: list[Any] = [sys.executable, PROVIDER_PY, "--api", api, "--port", "0"]
    if name:
        argv += ["--name", name]
    for key, value in flags.items():
        if value is None or value is False:
            continue
        argv.append("--" + key.replace("_", "-"))
        if value is not True:
            argv.append(",".join(value) if isinstance(value, (list, tuple)) else str(value))
    proc = harness.spawn(name or f"llm-{api}", argv, log_dir)
    try:
        port = int(harness.address_in_log(proc, _READY, PROVIDER_START_TIMEOUT_S, stream="stdout"))
    except BaseException:
        proc.stop()
        raise
    return Provider(proc, f"http://127.0.0.1:{port}{SDK_BASE_PATH[api]}")


# === server-sent events ===


class SSE(NamedTuple):
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def sse_events(lines: Iterable[str]) -> Iterator[SSE]:
    """Events of a text/event-stream (WHATWG rules: LF, CR or CRLF line ends; `data` lines joined
    by LF; an event ends at a blank line; comments and unknown fields ignored)."""
    event, data = None, []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SSE(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield SSE(event, "\n".join(data))


def split_lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


# === AWS event stream ===


class EventStreamError(AssertionError):
    """A frame that breaks the event-stream format (length or CRC)."""


class Frame(NamedTuple):
    headers: dict[str, Any]
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


def decode_eventstream(data: bytes) -> list[Frame]:
    """Every message of an application/vnd.amazon.eventstream body, checking both CRCs; fails on
    trailing bytes, so a truncated stream shows."""
    frames, at = [], 0
    while at < len(data):
        if len(data) - at < 16:
            raise EventStreamError(f"{len(data) - at} trailing bytes at offset {at}: not a whole message")
        total, headers_len, prelude_crc = struct.unpack_from(">III", data, at)
        if zlib.crc32(data[at:at + 8]) != prelude_crc:
            raise EventStreamError(f"prelude CRC mismatch at offset {at}")
        if total < 16 + headers_len or at + total > len(data):
            raise EventStreamError(f"message at offset {at} claims {total} bytes; {len(data) - at} left")
        message = data[at:at + total]
        (message_crc,) = struct.unpack_from(">I", message, total - 4)
        if zlib.crc32(message[:-4]) != message_crc:
            raise EventStreamError(f"message CRC mismatch at offset {at}")
        headers = _eventstream_headers(message[12:12 + headers_len])
        frames.append(Frame(headers, message[12 + headers_len:total - 4]))
        at += total
    return frames


def _eventstream_headers(raw: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    i = 0
    while i < len(raw):
        n = raw[i]
        name = raw[i + 1:i + 1 + n].decode()
        kind = raw[i + 1 + n]
        i += 2 + n
        if kind in (0, 1):  # bool true / false
            out[name] = kind == 0
        elif kind == 2:
            out[name] = struct.unpack_from(">b", raw, i)[0]
            i += 1
        elif kind == 3:
            out[name] = struct.unpack_from(">h", raw, i)[0]
            i += 2
        elif kind == 4:
            out[name] = struct.unpack_from(">i", raw, i)[0]
            i += 4
        elif kind in (5, 8):  # long, timestamp
            out[name] = struct.unpack_from(">q", raw, i)[0]
            i += 8
        elif kind in (6, 7):  # bytes, string
            (length,) = struct.unpack_from(">H", raw, i)
            value = raw[i + 2:i + 2 + length]
            out[name] = value.decode() if kind == 7 else value
            i += 2 + length
        elif kind == 9:  # uuid
            out[name] = raw[i:i + 16]
            i += 16
        else:
            raise EventStreamError(f"header {name!r} has unknown value type {kind}")
    return out


# === AWS Signature Version 4 (client side) ===


def _aws_quote(value: str, keep_slash: bool) -> str:
    # Unreserved characters stay; everything else is %XX in upper case.
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def sigv4_headers(method: str, url: str, body: bytes, *, access_key: str, secret_key: str, region: str,
                  service: str, headers: Mapping[str, str] | None = None, when: datetime | None = None,
                  session_token: str | None = None, double_encode: bool = True) -> dict[str, str]:
    """The headers that sign a request (host, x-amz-date, [x-amz-security-token], authorization),
    per AWS's "Create a signed AWS API request". `url` is the URL as sent (path percent-encoded);
    the canonical URI encodes that path once more unless `double_encode` is False (S3's rule,
    which other services reject)."""
    when = when or datetime.now(timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    parts = urlsplit(url)
    out = {"host": parts.netloc, "x-amz-date": amz_date}
    if session_token:
        out["x-amz-security-token"] = session_token
    signed_values: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
    signed_values.update(out)
    names = sorted(signed_values)
    canonical_headers = "".join(f"{n}:{' '.join(signed_values[n].split())}\n" for n in names)
    path = parts.path or "/"
    canonical_uri = _aws_quote(path, keep_slash=True) if double_encode else path
    query = []
    for pair in parts.query.split("&") if parts.query else []:
        k, _, v = pair.partition("=")
        query.append((_aws_quote(unquote(k), False), _aws_quote(unquote(v), False)))
    canonical_query = "&".join(f"{k}={v}" for k, v in sorted(query))
    canonical_request = "\n".join([method, canonical_uri, canonical_query, canonical_headers, ";".join(names),
                                   hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = b"AWS4" + secret_key.encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
                            f"Signature={signature}")
    return out


def bedrock_post(url: str, body: Any, *, access_key: str, secret_key: str, region: str = "us-east-1",
                 timeout: float = 10, **sign: Any) -> httpx.Response:
    """POSTs JSON to a Bedrock Runtime URL, signed for service `bedrock`. The request is sent
    exactly as signed (httpx would otherwise re-encode the path)."""
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    headers.update(sigv4_headers("POST", url, data, access_key=access_key, secret_key=secret_key, region=region,
                                 service="bedrock", headers=headers, **sign))
    return httpx.post(httpx.URL(url), content=data, headers=headers, timeout=timeout)


def words(text: str) -> int:
    return len(text.split())
