"""Fetch seed files from where the user's config points.

Two kinds of source are supported:

* a plain URL (``http://``, ``https://`` or ``file://``), downloaded with the standard
  library only, streamed to disk with retries and exponential backoff;
* a file in a Hugging Face Hub repository, downloaded with ``huggingface_hub`` at a
  pinned revision.

Every download is written atomically (see :func:`corpusforge.io.atomic_output`): the
destination appears only once the whole body has arrived and, when a ``sha256`` is
given, once the digest matches. A failed fetch leaves neither the destination nor a
temporary file behind. Every failure is raised as :class:`FetchError`.

A resumable fetch (``resume=True``: the files of a crawl, which are big) writes to
``<dest>.part`` instead and keeps it across failed attempts and runs: the next
attempt asks for the rest with an HTTP ``Range`` header, appends when the server
answers 206 and starts again from zero when it answers 200. The ``.part`` file is
renamed to the destination only once its length matches the server's and its
sha256 the expected one; a body cut short never looks complete.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import posixpath
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .io import PathLike, atomic_output, sha256_file

logger = logging.getLogger("corpusforge.fetch")

_CHUNK_SIZE = 1 << 20  # 1 MiB
_URL_SCHEMES = ("http", "https", "file")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_USER_AGENT = "corpusforge-fetch"

# Errors raised by the network layer that are worth another attempt.
_TRANSIENT_ERRORS = (TimeoutError, ConnectionError, http.client.HTTPException, ssl.SSLError)
# While the body streams in, any OSError comes from the socket (the file is written outside).
_TRANSIENT_READ_ERRORS = (OSError, http.client.HTTPException)


class FetchError(RuntimeError):
    """A seed file could not be fetched (or did not match its expected digest)."""


class _TransientError(Exception):
    """Internal: one attempt failed in a way that may succeed on retry."""


def source_file_name(source: Mapping[str, Any], default: str) -> str:
    """The file name a configured source is stored under locally.

    The last part of its URL's path (query and fragment dropped), of its Hugging
    Face ``filename`` or of its ``path``; ``default`` when that part is empty. Every
    rule that downloads a configured file (seeds, benchmarks, models) names its
    output with this, so the name keeps the extension the readers go by.
    """
    if "url" in source:
        remote = urllib.parse.urlsplit(str(source["url"])).path
    elif "hf" in source:
        remote = str(source["hf"].get("filename") or "")
    else:
        remote = str(source.get("path") or "")
    return posixpath.basename(remote) or default


def local_file(source: Mapping[str, Any], folder: str, default: str) -> str:
    """A configured source's local file: its ``path``, else where the rule that
    downloads it puts it, ``<folder>/<source_file_name>``."""
    if "path" in source:
        return str(source["path"])
    return f"{folder}/{source_file_name(source, default)}"


def _expected_digest(sha256: str | None, what: str) -> str | None:
    """Normalise a configured digest (case, surrounding blanks); reject malformed ones."""
    if sha256 is None:
        return None
    if not isinstance(sha256, str):
        raise FetchError(f"sha256 for {what} must be a string, got {type(sha256).__name__}")
    normalised = sha256.strip().lower()
    if not _SHA256_RE.fullmatch(normalised):
        raise FetchError(f"sha256 for {what} is not 64 hexadecimal characters: {sha256!r}")
    return normalised


def _mismatch(what: str, expected: str, actual: str) -> FetchError:
    return FetchError(f"sha256 mismatch for {what}: expected {expected}, got {actual}")


class _HttpOnlyRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s); urllib would otherwise also follow ftp:// targets."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(f"{req.full_url} redirected to unsupported URL {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _content_length(headers: Any) -> int | None:
    value = headers.get("Content-Length") if headers is not None else None
    try:
        length = int(value)
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


def _is_retryable_status(code: int) -> bool:
    return code == 429 or 500 <= code <= 599


class _RangeRefused(_TransientError):
    """Internal: the server answered 416 to a Range request (the .part is stale)."""


def _open(url: str, scheme: str, timeout: float, offset: int = 0) -> Any:
    """The response to GET ``url`` (from byte ``offset`` when not 0).

    Raises _TransientError for failures worth retrying and FetchError for the others.
    """
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(_HttpOnlyRedirectHandler)
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        status = f"HTTP {exc.code} {exc.reason}".rstrip()
        if exc.code == 416 and offset:
            raise _RangeRefused(f"{status} for bytes from {offset}") from exc
        if _is_retryable_status(exc.code):
            raise _TransientError(status) from exc
        raise FetchError(f"cannot fetch {url}: {status}") from exc
    except urllib.error.URLError as exc:
        if scheme == "file":  # a missing local file does not appear by retrying
            raise FetchError(f"cannot fetch {url}: {exc.reason}") from exc
        raise _TransientError(f"connection error: {exc.reason}") from exc
    except _TRANSIENT_ERRORS as exc:
        raise _TransientError(f"connection error: {exc!r}") from exc
    except (ValueError, OSError) as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from exc


def _stream(response: Any, out: Any, received: int, digest: Any = None) -> int:
    """Copy the body of ``response`` into ``out`` (and ``digest``); the byte count so
    far (``received`` before). A connection lost mid-body is a _TransientError."""
    while True:
        try:
            block = response.read(_CHUNK_SIZE)
        except _TRANSIENT_READ_ERRORS as exc:
            raise _TransientError(f"connection lost after {received} bytes: {exc!r}") from exc
        if not block:
            return received
        out.write(block)
        if digest is not None:
            digest.update(block)
        received += len(block)


def _download_once(
    url: str, scheme: str, dest: Path, expected: str | None, timeout: float
) -> tuple[int, str]:
    """One attempt: stream ``url`` into ``dest`` atomically; return (size, sha256).

    Raises _TransientError for failures worth retrying and FetchError for the others.
    """
    response = _open(url, scheme, timeout)
    with response:
        length = _content_length(response.headers)
        digest = hashlib.sha256()
        received = 0
        try:
            with atomic_output(dest) as tmp, open(tmp, "wb") as out:
                received = _stream(response, out, received, digest)
                if length is not None and received < length:
                    # http.client returns b"" instead of raising when the peer closes early.
                    raise _TransientError(f"truncated body: received {received} of {length} bytes")
                actual = digest.hexdigest()
                if expected is not None and actual != expected:
                    raise _mismatch(url, expected, actual)
        except OSError as exc:  # local disk problems: retrying will not help
            raise FetchError(f"cannot write {dest} while fetching {url}: {exc}") from exc
    return received, actual


def part_path(dest: PathLike) -> Path:
    """Where a resumable fetch keeps what has arrived so far."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def _content_range(headers: Any) -> tuple[int, int | None] | None:
    """(first byte, total or None) of a 206 response's Content-Range."""
    match = re.fullmatch(
        r"bytes\s+(\d+)-(\d+)/(\d+|\*)", (headers.get("Content-Range") or "").strip()
    )
    if not match:
        return None
    total = match.group(3)
    return int(match.group(1)), None if total == "*" else int(total)


def _download_part(
    url: str, scheme: str, dest: Path, expected: str | None, timeout: float
) -> tuple[int, str]:
    """One resumable attempt: continue ``<dest>.part``; rename it once complete."""
    part = part_path(dest)
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, scheme, timeout, offset)
    except _RangeRefused:
        part.unlink()  # nothing beyond what we have: start again from zero
        raise
    with response:
        length = _content_length(response.headers)
        span = _content_range(response.headers) if response.getcode() == 206 else None
        if offset and span is None:
            logger.info("%s: the server sends the whole file again; restarting from zero", url)
            offset = 0
        elif span is not None and span[0] != offset:
            part.unlink()
            raise _TransientError(f"asked for bytes from {offset}, got bytes from {span[0]}")
        if span is not None and span[1] is not None:
            total = span[1]
        else:
            total = None if length is None else offset + length
        received = offset
        try:
            with open(part, "ab" if offset else "wb") as out:
                received = _stream(response, out, received)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise FetchError(f"cannot write {part} while fetching {url}: {exc}") from exc
    if total is not None and received < total:
        raise _TransientError(f"cut short: received {received} of {total} bytes")
    if total is not None and received > total:
        part.unlink()
        raise _TransientError(f"received {received} bytes, more than the {total} announced")
    actual = sha256_file(part)
    if expected is not None and actual != expected:
        part.unlink()
        raise _mismatch(url, expected, actual)
    os.replace(part, dest)
    return received, actual


def fetch_url(
    url: str,
    dest: PathLike,
    *,
    sha256: str | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
    resume: bool = False,
) -> Path:
    """Download ``url`` to ``dest`` atomically, retrying transient failures.

    Connection errors, timeouts, truncated bodies, HTTP 429 and 5xx are retried up to
    ``retries`` more times, sleeping ``backoff``, ``2*backoff``, ``4*backoff``... seconds
    between attempts. Other HTTP errors fail at once. If ``sha256`` is given the body's
    digest must match it, otherwise nothing is written. ``resume``: keep what arrived
    in ``<dest>.part`` and continue it with HTTP Range (see the module's doc); a
    fetch that fails leaves the ``.part`` file for the next run to continue.
    """
    dest = Path(dest)
    if not isinstance(url, str) or not url:
        raise FetchError(f"URL must be a non-empty string, got {url!r}")
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _URL_SCHEMES:
        raise FetchError(
            f"cannot fetch {url}: unsupported URL scheme {scheme!r} "
            f"(supported: {', '.join(_URL_SCHEMES)})"
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise FetchError(f"cannot fetch {url}: retries must be a non-negative integer")
    if backoff < 0:
        raise FetchError(f"cannot fetch {url}: backoff must not be negative")
    expected = _expected_digest(sha256, url)

    attempts = retries + 1
    last_error: _TransientError | None = None
    for attempt in range(1, attempts + 1):
        logger.info("fetching %s -> %s (attempt %d/%d)", url, dest, attempt, attempts)
        try:
            download = _download_part if resume else _download_once
            size, actual = download(url, scheme, dest, expected, timeout)
        except _TransientError as exc:
            last_error = exc
            if attempt == attempts:
                logger.warning("attempt %d/%d for %s failed: %s", attempt, attempts, url, exc)
                break
            delay = backoff * 2 ** (attempt - 1)
            logger.warning(
                "attempt %d/%d for %s failed: %s; retrying in %.2f s",
                attempt,
                attempts,
                url,
                exc,
                delay,
            )
            time.sleep(delay)
            continue
        logger.info("fetched %s (%d bytes, sha256 %s)", url, size, actual)
        return dest
    raise FetchError(f"cannot fetch {url} after {attempts} attempt(s): {last_error}")


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def fetch_hf(
    repo_id: str,
    filename: str,
    dest: PathLike,
    *,
    revision: str,
    repo_type: str = "dataset",
    sha256: str | None = None,
    endpoint: str | None = None,
    cache_dir: PathLike | None = None,
) -> Path:
    """Download ``filename`` from a Hugging Face Hub repository at a pinned ``revision``.

    The file goes through the huggingface_hub cache (``cache_dir``) and is then copied
    to ``dest`` atomically, checking ``sha256`` if given. ``HF_TOKEN`` from the
    environment is used for authentication and never appears in messages or logs.
    """
    dest = Path(dest)
    what = f"{repo_type} repo {repo_id!r}, file {filename!r}, revision {revision!r}"
    if not isinstance(revision, str) or not revision.strip():
        raise FetchError(
            f"cannot fetch {what}: a pinned revision (ideally a commit hash) is required "
            "for reproducibility"
        )
    if not _COMMIT_RE.fullmatch(revision):
        logger.warning(
            "revision %r of %s is not a commit hash; the file may change upstream",
            revision,
            repo_id,
        )
    expected = _expected_digest(sha256, what)

    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise FetchError(f"cannot fetch {what}: huggingface_hub is not installed") from exc

    token = os.environ.get("HF_TOKEN") or None
    logger.info(
        "fetching %s from the Hugging Face Hub%s -> %s",
        what,
        f" at {endpoint}" if endpoint else "",
        dest,
    )
    try:
        local = hf_hub_download(
            repo_id=repo_id,
            filename=filename,
            revision=revision,
            repo_type=repo_type,
            token=token,
            endpoint=endpoint,
            cache_dir=cache_dir,
        )
    except Exception as exc:  # huggingface_hub raises many types (HTTP, OS, ValueError)
        detail = f"{type(exc).__name__}: {exc}"
        message = _redact(f"cannot fetch {what} from the Hugging Face Hub: {detail}", token)
        # Keep the original exception as the cause unless it would carry the token along.
        cause = exc if not (token and token in detail) else None
        raise FetchError(message) from cause

    digest = hashlib.sha256()
    size = 0
    try:
        with (
            atomic_output(dest) as tmp,
            open(local, "rb") as src,
            open(tmp, "wb") as out,
        ):
            while block := src.read(_CHUNK_SIZE):
                out.write(block)
                digest.update(block)
                size += len(block)
            actual = digest.hexdigest()
            if expected is not None and actual != expected:
                raise _mismatch(what, expected, actual)
    except OSError as exc:
        raise FetchError(f"cannot copy {what} from {local} to {dest}: {exc}") from exc
    logger.info("fetched %s (%d bytes, sha256 %s)", what, size, actual)
    return dest


def fetch_source(
    source: Mapping[str, Any],
    dest: PathLike,
    key: str = "source",
    resume: bool = False,
    pin: str | None = None,
) -> Path:
    """Fetch one configured source to ``dest``.

    ``{"url": ..., "sha256": ..., "retries": ...}`` goes to :func:`fetch_url`;
    ``{"hf": {"repo_id", "filename", "revision", "repo_type", "endpoint"}, "sha256": ...}``
    goes to :func:`fetch_hf`. ``sha256``, ``retries``, ``repo_type`` and ``endpoint`` are
    optional; without ``sha256`` a warning names the config ``key`` and the digest
    the file came with (rule manifest records it too), so the user can pin it.
    ``resume``: a URL is fetched resumably (see :func:`fetch_url`). ``pin``: the
    config key the warning tells to set (default ``<key>.sha256``).
    """
    path = _fetch_source(source, dest, resume)
    if source.get("sha256") is None:
        logger.warning(
            "%s: no sha256 given, so nothing checks that the file is the one intended; "
            "it came with sha256 %s (set %s to pin it)",
            key,
            sha256_file(path),
            pin or f"{key}.sha256",
        )
    return path


def _fetch_source(source: Mapping[str, Any], dest: PathLike, resume: bool = False) -> Path:
    if not isinstance(source, Mapping):
        raise FetchError(f"a source must be a mapping, got {type(source).__name__}")
    has_url, has_hf = "url" in source, "hf" in source
    if has_url and has_hf:
        raise FetchError("a source must have either a 'url' or an 'hf' entry, not both")
    sha256 = source.get("sha256")
    if has_url:
        retries = source.get("retries", 3)
        return fetch_url(source["url"], dest, sha256=sha256, retries=retries, resume=resume)
    if has_hf:
        hf = source["hf"]
        if not isinstance(hf, Mapping):
            raise FetchError(f"the 'hf' entry of a source must be a mapping, got {hf!r}")
        # A missing revision is reported by fetch_hf itself (pinned revisions are mandatory).
        missing = [key for key in ("repo_id", "filename") if not hf.get(key)]
        if missing:
            raise FetchError(f"the 'hf' entry {dict(hf)!r} lacks {', '.join(missing)}")
        return fetch_hf(
            hf["repo_id"],
            hf["filename"],
            dest,
            revision=hf.get("revision"),
            repo_type=hf.get("repo_type", "dataset"),
            sha256=sha256,
            endpoint=hf.get("endpoint"),
        )
    raise FetchError(
        f"a source needs a 'url' or an 'hf' entry; got keys {sorted(map(str, source))}"
    )
