"""Readers for Common Crawl files: WET (extracted text) and WARC (HTTP responses).

Both readers yield :class:`corpusforge.records.RawRow` objects, so a crawl file is
read like any other seed file. ``row`` is the 1-based number of the record in the
file (the ``warcinfo`` record that opens a file is record 1). A parsed row has the
fields ``text``, ``url``, ``warc_date``, ``record_id`` and ``content_type``.

Records that carry no document are not rows: ``warcinfo``, ``request``,
``metadata`` and ``revisit`` records (and in a WET file anything that is not a
``conversion`` record). Pass a ``collections.Counter`` as ``skipped`` to count
them by record type. Every record that could carry a document yields a row: its
fields, or a reason code in ``error``:

* ``invalid_utf8``: the bytes decode neither with the declared charset (WARC: the
  HTTP ``Content-Type`` header, then the HTML ``<meta>`` declaration) nor as UTF-8;
* ``no_text``: nothing is left after decoding (WET) or extraction (WARC);
* ``not_html``: a WARC response whose payload is not HTML (or not a 200 response);
* ``truncated_record``: the record ends before its ``Content-Length``, or the
  file ends inside a record or inside a gzip member. The row names the byte
  offset (in the file as stored, compressed offsets for ``.gz``) of the record or
  member, and reading stops there: nothing after a truncation can be trusted.

HTML is turned into text with trafilatura (main content, no comments, tables
kept, deterministic).
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, Any

from .records import RawRow

HTML_TYPES = ("text/html", "application/xhtml+xml")
# Charset labels decoded by a superset codec (the WHATWG encoding standard does the same).
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
META_SNIFF_BYTES = 4096
_CHUNK = 1 << 16


class _Tracker:
    """A pass-through reader that counts bytes and checks gzip member boundaries.

    warcio stops quietly at a file cut inside a gzip member; this wrapper decodes
    the members again (output discarded) to tell where the last one started and
    whether it was complete.
    """

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.consumed = 0
        self.gzip: bool | None = None
        self.member_start = 0
        self._decomp: Any = None
        self.trailing = b""  # undecoded bytes (uncompressed files: the last few)

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            if self.gzip is None:
                self.gzip = data[:2] == b"\x1f\x8b"
            if self.gzip:
                self._feed(data, self.consumed)
            self.consumed += len(data)
        return data

    def _feed(self, data: bytes, offset: int) -> None:
        while data:
            if self._decomp is None:
                self._decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
                self.member_start = offset
            before = len(data)
            try:
                self._decomp.decompress(data)
            except zlib.error:
                self.gzip = False  # not gzip after all: let warcio report it
                return
            if not self._decomp.eof:
                return
            rest = self._decomp.unused_data
            offset += before - len(rest)
            self._decomp = None
            data = rest

    def open_member(self) -> int | None:
        """Offset of a gzip member the file ended in, else None."""
        if self.gzip and self._decomp is not None:
            return self.member_start
        return None


def _charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1).lower() if match else None


def _meta_charset(payload: bytes) -> str | None:
    match = _META_CHARSET.search(payload[:META_SNIFF_BYTES])
    return match.group(1).decode("ascii").lower() if match else None


def decode_payload(
    payload: bytes, declared: list[str | None]
) -> tuple[str | None, str | None, str]:
    """(text, charset used, detail): try each declared charset, then UTF-8.

    A declared charset Python does not know is skipped. ``text`` is None when no
    candidate decodes the bytes; ``detail`` then says what was tried.
    """
    tried: list[str] = []
    errors: list[str] = []
    if payload.startswith(codecs.BOM_UTF8):
        payload = payload[len(codecs.BOM_UTF8) :]
        declared = ["utf-8", *declared]
    for name in [*declared, "utf-8"]:
        if not name:
            continue
        codec = CHARSET_ALIASES.get(name, name)
        try:
            codec = codecs.lookup(codec).name
        except LookupError:
            errors.append(f"unknown charset {name!r}")
            continue
        if codec in tried:
            continue
        tried.append(codec)
        try:
            return payload.decode(codec), codec, ""
        except UnicodeDecodeError as exc:
            errors.append(f"{codec}: byte {exc.start}: {exc.reason}")
    return None, None, "; ".join(errors)


def extract_html(html: str) -> str | None:
    """Main text of an HTML page with trafilatura (None when nothing is found)."""
    import trafilatura

    return trafilatura.extract(
        html,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        with_metadata=False,
        deduplicate=False,
        favor_precision=False,
    )


def _fields(record: Any, text: str, content_type: str | None) -> dict[str, Any]:
    headers = record.rec_headers
    return {
        "text": text,
        "url": headers.get_header("WARC-Target-URI"),
        "warc_date": headers.get_header("WARC-Date"),
        "record_id": headers.get_header("WARC-Record-ID"),
        "content_type": content_type,
    }


def _lossy(data: bytes, limit: int = 2000) -> str:
    return data[:limit].decode("utf-8", errors="replace")


def _iter_records(
    stream: IO[bytes],
    wanted: str,
    convert: Callable[[Any, bytes], RawRow | None],
    skipped: Counter | None,
) -> Iterator[RawRow]:
    """Every record of type ``wanted`` converted to a row; truncation checks."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    tracker = _Tracker(stream)
    number = 0
    last_end = 0
    iterator = ArchiveIterator(tracker, ensure_http_headers=False)
    try:
        for record in iterator:
            number += 1
            try:
                body = record.content_stream().read()
            except Exception as exc:  # a broken chunked/compressed payload
                body = b""
                broken = f"{type(exc).__name__}: {exc}"
            else:
                broken = ""
            while record.raw_stream.read(_CHUNK):
                pass  # drain what a decoding reader left, to check the length
            missing = getattr(record.raw_stream, "limit", 0)
            offset = iterator.get_record_offset()
            last_end = offset + iterator.get_record_length()
            declared = record.rec_headers.get_header("Content-Length") or ""
            if not declared.strip().isdigit():
                # Content-Length is mandatory in WARC: its absence means a cut header.
                yield RawRow(
                    number,
                    error="truncated_record",
                    detail=f"record at byte offset {offset} has no Content-Length "
                    "(header cut off?)",
                    raw=_lossy(body),
                )
                return
            if missing > 0:
                yield RawRow(
                    number,
                    error="truncated_record",
                    detail=f"record at byte offset {offset} ends {missing} bytes before "
                    f"its Content-Length {record.length}",
                    raw=_lossy(body),
                )
                return
            if record.rec_type != wanted:
                if skipped is not None:
                    skipped[record.rec_type] += 1
                continue
            if broken:
                yield RawRow(number, error="no_text", detail=f"undecodable payload: {broken}")
                continue
            row = convert(record, body)
            row.row = number
            yield row
    except ArchiveLoadFailed as exc:
        yield RawRow(
            number + 1,
            error="truncated_record",
            detail=f"unreadable record after byte offset {last_end}: {exc}",
        )
        return
    member = tracker.open_member()
    if member is not None:
        yield RawRow(
            number + 1,
            error="truncated_record",
            detail=f"gzip member at byte offset {member} is cut off at end of file "
            f"(file is {tracker.consumed} bytes)",
        )


def iter_wet(stream: IO[bytes], skipped: Counter | None = None) -> Iterator[RawRow]:
    """Rows of a WET file (plain or gzipped): one per ``conversion`` record."""

    def convert(record: Any, body: bytes) -> RawRow:
        content_type = record.rec_headers.get_header("Content-Type")
        declared = [_charset_of(content_type)]
        text, _, detail = decode_payload(body, declared)
        if text is None:
            return RawRow(0, error="invalid_utf8", detail=detail, raw=_lossy(body))
        if not text.strip():
            return RawRow(0, error="no_text", detail="empty conversion record", raw=text)
        return RawRow(0, fields=_fields(record, text.strip(), content_type))

    return _iter_records(stream, "conversion", convert, skipped)


def iter_warc(
    stream: IO[bytes],
    skipped: Counter | None = None,
    extract: Callable[[str], str | None] = extract_html,
) -> Iterator[RawRow]:
    """Rows of a WARC file (plain or gzipped): one per ``response`` record.

    HTML pages (by the HTTP ``Content-Type``) with status 200 are decoded (see
    :func:`decode_payload`) and their main text extracted with ``extract``.
    """

    def convert(record: Any, body: bytes) -> RawRow:
        http = record.http_headers
        content_type = http.get_header("Content-Type") if http is not None else None
        status = http.get_statuscode() if http is not None else None
        mime = (content_type or "").split(";")[0].strip().lower()
        if status != "200" or mime not in HTML_TYPES:
            return RawRow(
                0,
                error="not_html",
                detail=f"HTTP status {status}, Content-Type {content_type!r}",
            )
        payload = body
        declared = [_charset_of(content_type), _meta_charset(payload)]
        html, charset, detail = decode_payload(payload, declared)
        if html is None:
            return RawRow(0, error="invalid_utf8", detail=detail, raw=_lossy(payload))
        text = extract(html) if html.strip() else None
        if not text or not text.strip():
            return RawRow(
                0,
                error="no_text",
                detail=f"no main text extracted ({len(payload)} bytes, {charset})",
                raw=html[:2000],
            )
        return RawRow(0, fields=_fields(record, text.strip(), content_type))

    return _iter_records(stream, "response", convert, skipped)
