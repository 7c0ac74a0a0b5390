"""Tests for corpusforge.fetch against real HTTP servers started on 127.0.0.1.

Every test talks only to servers it starts itself (or to a local port nobody listens
on); nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from corpusforge.fetch import (
    FetchError,
    fetch_hf,
    fetch_source,
    fetch_url,
    sha256_file,
    source_file_name,
)

FAST = {"backoff": 0.01, "timeout": 10.0}
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO_ID = "acme/seed-corpus"
HF_FILE = "data/seed.jsonl"
TOKEN = "hf_testSecretTokenDoNotLeak123"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Reply:
    """One scripted response. ``send`` < len(body) truncates the body and closes."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    send: int | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class ScriptedServer:
    """A ThreadingHTTPServer whose replies per path are scripted by the test.

    ``script(path, r1, r2, ...)``: the n-th request to ``path`` gets reply n; the last
    reply repeats. Unscripted paths get a plain 404.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.counts: Counter[str] = Counter()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def script(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.base + path

    def _next_reply(self, method: str, path: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            self.counts[path] += 1
            self.seen.append(Seen(method, path, headers))
            replies = self.routes.get(path)
            if not replies:
                return Reply(404, b"not found")
            return replies[min(self.counts[path], len(replies)) - 1]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                reply = server._next_reply(self.command, self.path, dict(self.headers.items()))
                self.send_response(reply.status)
                headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    body = reply.body if reply.send is None else reply.body[: reply.send]
                    self.wfile.write(body)
                    self.wfile.flush()
                self.close_connection = True

            do_GET = _answer
            do_HEAD = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


# every test here talks to servers on 127.0.0.1 (conftest.no_proxy)
pytestmark = pytest.mark.usefixtures("no_proxy")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def big_body() -> bytes:
    return random.Random(1234).randbytes(3 * 1024 * 1024 + 321)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------- plain URLs


def test_sha256_file_matches_hashlib(tmp_path: Path, big_body: bytes) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(big_body)
    assert sha256_file(path) == _sha(big_body)
    assert sha256_file(str(path)) == _sha(big_body)


def test_downloads_large_body_byte_identically(
    server: ScriptedServer, tmp_path: Path, big_body: bytes
) -> None:
    url = server.script("/big.bin", Reply(body=big_body))
    dest = tmp_path / "out" / "big.bin"

    result = fetch_url(url, dest, sha256=_sha(big_body).upper(), **FAST)

    assert result == dest
    assert dest.read_bytes() == big_body
    assert server.counts["/big.bin"] == 1
    assert _leftovers(dest.parent) == ["big.bin"]


def test_wrong_sha256_leaves_nothing_behind(
    server: ScriptedServer, tmp_path: Path, big_body: bytes
) -> None:
    url = server.script("/big.bin", Reply(body=big_body))
    dest = tmp_path / "out" / "big.bin"
    wrong = _sha(b"something else")

    with pytest.raises(FetchError) as info:
        fetch_url(url, dest, sha256=wrong, **FAST)

    message = str(info.value)
    assert url in message
    assert wrong in message
    assert _sha(big_body) in message
    assert not dest.exists()
    assert _leftovers(dest.parent) == []
    assert server.counts["/big.bin"] == 1  # a digest mismatch is not retried


def test_malformed_sha256_is_rejected_before_any_request(
    server: ScriptedServer, tmp_path: Path
) -> None:
    url = server.script("/x", Reply(body=b"x"))
    with pytest.raises(FetchError, match="sha256"):
        fetch_url(url, tmp_path / "x", sha256="abc123", **FAST)
    assert server.counts["/x"] == 0


@pytest.mark.parametrize("status", [500, 429])
def test_transient_status_is_retried_until_success(
    server: ScriptedServer, tmp_path: Path, status: int
) -> None:
    body = b"payload after two failures\n" * 100
    url = server.script("/flaky", Reply(status, b"busy"), Reply(status, b"busy"), Reply(body=body))
    dest = tmp_path / "flaky.txt"

    fetch_url(url, dest, sha256=_sha(body), retries=3, **FAST)

    assert dest.read_bytes() == body
    assert server.counts["/flaky"] == 3


def test_always_503_gives_up_after_retries(server: ScriptedServer, tmp_path: Path) -> None:
    url = server.script("/down", Reply(503, b"unavailable"))
    dest = tmp_path / "down.txt"

    with pytest.raises(FetchError) as info:
        fetch_url(url, dest, retries=2, **FAST)

    assert server.counts["/down"] == 3
    assert url in str(info.value)
    assert "503" in str(info.value)
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_404_fails_at_once(server: ScriptedServer, tmp_path: Path) -> None:
    url = server.script("/missing", Reply(404, b"nope"))
    dest = tmp_path / "missing.txt"

    with pytest.raises(FetchError) as info:
        fetch_url(url, dest, retries=3, **FAST)

    assert server.counts["/missing"] == 1
    assert url in str(info.value)
    assert "404" in str(info.value)
    assert not dest.exists()


def test_truncated_body_is_retried(server: ScriptedServer, tmp_path: Path) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    url = server.script("/cut", Reply(body=body, send=1000), Reply(body=body))
    dest = tmp_path / "cut.bin"

    fetch_url(url, dest, retries=2, **FAST)

    assert server.counts["/cut"] == 2
    assert dest.read_bytes() == body


def test_always_truncated_body_fails_without_file(server: ScriptedServer, tmp_path: Path) -> None:
    body = b"0123456789" * 10_000
    url = server.script("/cut", Reply(body=body, send=len(body) // 2))
    dest = tmp_path / "out" / "cut.bin"

    with pytest.raises(FetchError) as info:
        fetch_url(url, dest, retries=2, **FAST)

    assert server.counts["/cut"] == 3
    assert url in str(info.value)
    assert "truncated" in str(info.value)
    assert not dest.exists()
    assert _leftovers(dest.parent) == []


def test_connection_refused(tmp_path: Path) -> None:
    # A bound socket that never listens: connecting to it is refused, and holding it
    # keeps anyone else from taking the port during the test.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/file.txt"
        with pytest.raises(FetchError) as info:
            fetch_url(url, tmp_path / "file.txt", retries=1, **FAST)
    assert url in str(info.value)
    assert "2 attempt" in str(info.value)
    assert not (tmp_path / "file.txt").exists()


def test_unsupported_scheme(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="scheme"):
        fetch_url("ftp://127.0.0.1/seed.txt", tmp_path / "seed.txt", **FAST)
    assert _leftovers(tmp_path) == []


def test_file_url(tmp_path: Path, big_body: bytes) -> None:
    src = tmp_path / "src" / "seed file.bin"
    src.parent.mkdir()
    src.write_bytes(big_body)
    dest = tmp_path / "dest" / "seed.bin"

    fetch_url(src.as_uri(), dest, sha256=_sha(big_body), **FAST)

    assert dest.read_bytes() == big_body
    with pytest.raises(FetchError, match="nope"):
        fetch_url((tmp_path / "nope.bin").as_uri(), tmp_path / "dest" / "nope.bin", **FAST)


def test_backoff_doubles_between_attempts(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []
    monkeypatch.setattr(time, "sleep", delays.append)
    url = server.script("/down", Reply(500))
    with pytest.raises(FetchError):
        fetch_url(url, tmp_path / "down", retries=3, backoff=0.01)
    assert server.counts["/down"] == 4
    assert delays == pytest.approx([0.01, 0.02, 0.04])


def test_attempts_and_retries_are_logged(
    server: ScriptedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.script("/flaky", Reply(502), Reply(body=b"ok"))
    with caplog.at_level(logging.INFO, logger="corpusforge.fetch"):
        fetch_url(url, tmp_path / "ok.txt", **FAST)
    messages = [r.getMessage() for r in caplog.records if r.name == "corpusforge.fetch"]
    assert any("attempt 1/4" in m for m in messages)
    assert any("attempt 2/4" in m for m in messages)
    assert any("retrying" in m and "502" in m for m in messages)


# ----------------------------------------------------------------- Hugging Face Hub files


@pytest.fixture
def hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Online mode, no telemetry, no token unless a test sets one."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    # huggingface_hub reads these at import time: patch the values it actually uses.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-stored-token"))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-default-cache"))


def _hf_path(revision: str = COMMIT, filename: str = HF_FILE, repo_id: str = REPO_ID) -> str:
    return f"/datasets/{repo_id}/resolve/{revision}/{filename}"


def _hf_file_reply(body: bytes) -> Reply:
    """What the Hub answers to HEAD and GET on /resolve for a regular (non-Xet) file.

    X-Repo-Commit and ETag are mandatory for hf_hub_download; no X-Xet-Hash header, so
    the plain HTTP download path is used; no redirect, so the GET hits the same path.
    """
    return Reply(
        body=body,
        headers={
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{_sha(body)}"',
            "Content-Type": "application/octet-stream",
        },
    )


def test_fetch_hf_downloads_pinned_revision_with_token(
    server: ScriptedServer, hf_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    body = b'{"text": "hello hub"}\n' * 5000
    server.script(_hf_path(), _hf_file_reply(body))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    dest = tmp_path / "seed" / "seed.jsonl"

    result = fetch_hf(
        REPO_ID,
        HF_FILE,
        dest,
        revision=COMMIT,
        sha256=_sha(body),
        endpoint=server.base,
        cache_dir=tmp_path / "hf-cache",
    )

    assert result == dest
    assert dest.read_bytes() == body
    assert not dest.is_symlink()
    assert _leftovers(dest.parent) == ["seed.jsonl"]
    assert server.seen, "the fake Hub saw no request"
    assert [s.method for s in server.seen] == ["HEAD", "GET"]
    for seen in server.seen:
        assert seen.path == _hf_path()
        assert COMMIT in seen.path
        auth = {k.lower(): v for k, v in seen.headers.items()}.get("authorization")
        assert auth == f"Bearer {TOKEN}"
    assert any((tmp_path / "hf-cache").rglob("*")), "hf cache_dir was not used"


def test_fetch_hf_wrong_sha256(server: ScriptedServer, hf_env: None, tmp_path: Path) -> None:
    body = b"hub bytes\n"
    server.script(_hf_path(), _hf_file_reply(body))
    dest = tmp_path / "seed" / "seed.jsonl"
    wrong = "0" * 64

    with pytest.raises(FetchError) as info:
        fetch_hf(
            REPO_ID,
            HF_FILE,
            dest,
            revision=COMMIT,
            sha256=wrong,
            endpoint=server.base,
            cache_dir=tmp_path / "hf-cache",
        )

    assert wrong in str(info.value) and _sha(body) in str(info.value)
    assert REPO_ID in str(info.value)
    assert not dest.exists()
    assert _leftovers(dest.parent) == []


@pytest.mark.parametrize("error_code", ["EntryNotFound", "RepoNotFound"])
def test_fetch_hf_not_found_hides_token(
    server: ScriptedServer,
    hf_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    error_code: str,
) -> None:
    server.script(
        _hf_path(),
        Reply(404, b'{"error": "not found"}', {"X-Error-Code": error_code}),
    )
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    dest = tmp_path / "seed.jsonl"

    with caplog.at_level(logging.DEBUG), pytest.raises(FetchError) as info:
        fetch_hf(
            REPO_ID,
            HF_FILE,
            dest,
            revision=COMMIT,
            endpoint=server.base,
            cache_dir=tmp_path / "hf-cache",
        )

    message = str(info.value)
    assert REPO_ID in message and HF_FILE in message and COMMIT in message
    assert server.counts[_hf_path()] >= 1
    # the token did reach the server, but appears in no message of the chain nor in logs
    assert any(
        {k.lower(): v for k, v in s.headers.items()}.get("authorization") == f"Bearer {TOKEN}"
        for s in server.seen
    )
    error: BaseException | None = info.value
    while error is not None:
        assert TOKEN not in str(error)
        error = error.__cause__ or error.__context__
    assert TOKEN not in caplog.text
    assert not dest.exists()


@pytest.mark.parametrize("revision", ["", "   ", None])
def test_fetch_hf_requires_revision(
    server: ScriptedServer, hf_env: None, tmp_path: Path, revision: str | None
) -> None:
    server.script(_hf_path(), _hf_file_reply(b"x"))
    with pytest.raises(FetchError, match="revision"):
        fetch_hf(
            REPO_ID,
            HF_FILE,
            tmp_path / "x",
            revision=revision,  # type: ignore[arg-type]
            endpoint=server.base,
            cache_dir=tmp_path / "hf-cache",
        )
    assert server.seen == []
    assert not (tmp_path / "hf-cache").exists()


# ------------------------------------------------------------------------ fetch_source


def test_a_source_without_sha256_is_fetched_with_a_warning_naming_the_key(
    server: ScriptedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"unpinned\n"
    url = server.script("/free.jsonl", Reply(body=body))
    with caplog.at_level(logging.WARNING, logger="corpusforge.fetch"):
        fetch_source({"url": url}, tmp_path / "free.jsonl", "seeds.web.source")
        fetch_source({"url": url, "sha256": _sha(body)}, tmp_path / "pinned.jsonl", "seeds.x")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # a pinned source is not warned about
    assert "seeds.web.source: no sha256" in warnings[0] and _sha(body) in warnings[0]
    assert "(set seeds.web.source.sha256 to pin it)" in warnings[0]


def test_a_listed_file_without_sha256_says_where_to_pin_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with _crawl_server(b"listed", True) as server, caplog.at_level(logging.WARNING):
        pin = "seeds.cc.source.sha256s: {a.warc.gz: <sha256>}"
        url = server.base + "/crawl/a.warc.gz"
        fetch_source({"url": url}, tmp_path / "a.warc.gz", "seeds.cc.source", True, pin)
    assert f"(set {pin} to pin it)" in caplog.text and _sha(b"listed") in caplog.text


def test_the_local_name_of_a_source() -> None:
    assert source_file_name({"url": "https://h/a/web.jsonl.zst?v=2#top"}, "seed") == "web.jsonl.zst"
    assert source_file_name({"url": "https://h/"}, "seed") == "seed"
    assert source_file_name({"hf": {"filename": "main/test.parquet"}}, "data") == "test.parquet"
    assert source_file_name({"path": "/models/lid.176.bin"}, "model.bin") == "lid.176.bin"


def test_fetch_source_url(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []
    monkeypatch.setattr(time, "sleep", delays.append)  # fetch_source uses the default backoff
    body = b"from a url\n"
    url = server.script("/src.txt", Reply(503), Reply(body=body))
    dest = tmp_path / "src.txt"

    assert fetch_source({"url": url, "sha256": _sha(body), "retries": 1}, dest) == dest
    assert dest.read_bytes() == body
    assert server.counts["/src.txt"] == 2
    assert delays == [1.0]

    server.script("/always-down", Reply(503))
    with pytest.raises(FetchError):
        fetch_source({"url": server.base + "/always-down", "retries": 0}, tmp_path / "down")
    assert server.counts["/always-down"] == 1  # the configured retries were honoured


def test_fetch_source_hf(server: ScriptedServer, hf_env: None, tmp_path: Path) -> None:
    body = b"from the hub\n"
    server.script(_hf_path(), _hf_file_reply(body))
    dest = tmp_path / "hub.txt"
    source = {
        "hf": {
            "repo_id": REPO_ID,
            "filename": HF_FILE,
            "revision": COMMIT,
            "endpoint": server.base,
        },
        "sha256": _sha(body),
    }

    assert fetch_source(source, dest) == dest
    assert dest.read_bytes() == body
    assert [s.path for s in server.seen] == [_hf_path(), _hf_path()]

    with pytest.raises(FetchError, match="revision"):
        fetch_source({"hf": {"repo_id": REPO_ID, "filename": HF_FILE}}, tmp_path / "x")


@pytest.mark.parametrize(
    "source",
    [
        {"path": "/data/seed.txt"},
        {},
        {"url": "http://127.0.0.1:9/x", "hf": {"repo_id": REPO_ID}},
        {"hf": "acme/seed-corpus"},
    ],
)
def test_fetch_source_rejects_bad_mappings(source: dict, tmp_path: Path) -> None:
    with pytest.raises(FetchError):
        fetch_source(source, tmp_path / "x")
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- resumable


def _crawl_server(body: bytes, ranges: bool):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from web_pages import CrawlServer

    return CrawlServer({"/crawl/a.warc.gz": body}, ranges=ranges)


@pytest.mark.parametrize("ranges", [True, False])
def test_a_cut_transfer_is_completed_with_range_or_restarted(
    tmp_path: Path, big_body: bytes, ranges: bool
) -> None:
    from corpusforge.fetch import part_path

    dest = tmp_path / "out" / "a.warc.gz"
    with _crawl_server(big_body, ranges) as server:
        server.faults["/crawl/a.warc.gz"] = [("cut", 1_000_000)]
        url = server.base + "/crawl/a.warc.gz"
        fetch_url(url, dest, sha256=_sha(big_body), retries=2, resume=True, **FAST)
    assert dest.read_bytes() == big_body and not part_path(dest).exists()
    (_, r1), (_, r2) = server.requests
    assert r1 is None and r2 == "bytes=1000000-"  # the second asks for the rest
    # a server without Range support sent it all again: restarted from zero, same bytes


def test_a_part_left_by_an_earlier_run_is_continued(tmp_path: Path, big_body: bytes) -> None:
    from corpusforge.fetch import part_path

    dest = tmp_path / "a.warc.gz"
    part_path(dest).write_bytes(big_body[:12345])
    with _crawl_server(big_body, True) as server:
        fetch_url(server.base + "/crawl/a.warc.gz", dest, resume=True, **FAST)
    assert dest.read_bytes() == big_body
    assert server.requests == [("/crawl/a.warc.gz", "bytes=12345-")]


def test_a_stale_part_longer_than_the_file_starts_again(tmp_path: Path) -> None:
    from corpusforge.fetch import part_path

    dest = tmp_path / "a.warc.gz"
    part_path(dest).write_bytes(b"x" * 100)
    with _crawl_server(b"short body", True) as server:
        fetch_url(server.base + "/crawl/a.warc.gz", dest, retries=1, resume=True, **FAST)
    assert dest.read_bytes() == b"short body"
    assert [r for _, r in server.requests] == ["bytes=100-", None]  # 416, then from zero


def test_5xx_then_success_resumable(tmp_path: Path, big_body: bytes) -> None:
    dest = tmp_path / "a.warc.gz"
    with _crawl_server(big_body, True) as server:
        server.faults["/crawl/a.warc.gz"] = [503, 502]
        fetch_url(server.base + "/crawl/a.warc.gz", dest, retries=2, resume=True, **FAST)
    assert dest.read_bytes() == big_body and len(server.requests) == 3


def test_a_transfer_always_cut_fails_loudly_and_never_looks_complete(
    tmp_path: Path, big_body: bytes
) -> None:
    from corpusforge.fetch import part_path

    dest = tmp_path / "a.warc.gz"
    with _crawl_server(big_body, False) as server:  # no Range: each attempt restarts
        server.faults["/crawl/a.warc.gz"] = [("cut", 5000)] * 3
        url = server.base + "/crawl/a.warc.gz"
        with pytest.raises(FetchError) as info:
            fetch_url(url, dest, retries=2, resume=True, **FAST)
    message = str(info.value)
    assert url in message and f"received 5000 of {len(big_body)} bytes" in message
    assert not dest.exists()
    assert part_path(dest).stat().st_size == 5000  # kept for the next run to continue


def test_a_resumed_file_with_the_wrong_sha256_is_not_kept(tmp_path: Path, big_body: bytes) -> None:
    from corpusforge.fetch import part_path

    dest = tmp_path / "a.warc.gz"
    with _crawl_server(big_body, True) as server, pytest.raises(FetchError, match="sha256"):
        fetch_url(server.base + "/crawl/a.warc.gz", dest, sha256="0" * 64, resume=True, **FAST)
    assert not dest.exists() and not part_path(dest).exists()
