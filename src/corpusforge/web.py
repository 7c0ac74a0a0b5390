"""Readers for Common Crawl files: WET (extracted text) and WARC (HTTP responses).

Both readers yield :class:`corpusforge.records.RawRow` objects, so a crawl file is
read like any other seed file. ``row`` is the 1-based number of the record in the
file (the ``warcinfo`` record that opens a file is record 1). A parsed row has the
fields ``text``, ``url``, ``warc_date``, ``record_id``, ``content_type`` and
``charset_detected``.

Records that carry no document are not rows: ``warcinfo``, ``request``,
``metadata`` and ``revisit`` records (and in a WET file anything that is not a
``conversion`` record). Pass a ``collections.Counter`` as ``skipped`` to count
them by record type. Every record that could carry a document yields a row: its
fields, or a reason code in ``error``:

* ``invalid_utf8``: the bytes decode neither with the declared charset (WARC: the
  HTTP ``Content-Type`` header, then the HTML ``<meta>`` declaration), nor as
  UTF-8, nor with the charset detection finds (see :func:`decode_payload`);
* ``no_text``: nothing is left after decoding (WET) or extraction (WARC);
* ``not_html``: a WARC response whose payload is not HTML (or not a 200 response);
* ``unreadable_record``: a span of the file that is no readable record (a corrupt
  gzip member, a header that is no WARC header, a Content-Length that does not
  end at a record boundary). The row names the span's byte offsets (start, end)
  in the file as stored (compressed offsets for ``.gz``); reading resyncs at the
  next gzip member or the next ``WARC/1.`` header, so every readable record
  after it is read;
* ``truncated_record``: the file ends inside a record or inside a gzip member
  (a file cut short); the row names the offsets of what was cut.

The spans of all rows and skipped records tile the file: ``skipped`` gets the
file's size under ``FILE_BYTES`` and the bytes the rows cover under
``BYTES_READ``, and the seed audit checks they are equal (nothing read past).

HTML is turned into text with trafilatura (main content, no comments, tables
kept, deterministic).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import mmap
import os
import re
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
# Among equally plausible detections, the web's default for undeclared pages wins.
PREFERRED_DETECTED = "cp1252"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_CONTENT_LENGTH = re.compile(rb"\r?\nContent-Length:[ \t]*(\d+)[ \t]*\r?\n", re.I)
META_SNIFF_BYTES = 4096
MAX_HEADER_BYTES = 1 << 16  # a WARC header longer than this is no header
_CHUNK = 1 << 20
_FIRST_CHUNK = 1 << 14
_SMALL_CHUNK = 1 << 10
SPILL_BYTES = 64 << 20  # a gzip member larger than this decompresses to a temporary file
_GZIP_MAGIC = b"\x1f\x8b\x08"
_BLANK = b" \t\r\n"
FILE_BYTES = "file_bytes"  # keys of ``skipped`` for the byte accounting
BYTES_READ = "bytes_read"


# --------------------------------------------------------------------------- charsets


def _charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1).lower() if match else None


def _meta_charset(payload: bytes) -> str | None:
    match = _META_CHARSET.search(payload[:META_SNIFF_BYTES])
    return match.group(1).decode("ascii").lower() if match else None


def detect_charset(payload: bytes) -> str | None:
    """The charset charset-normalizer finds for ``payload`` (None: undecodable).

    Of the candidates with the least noise, windows-1252 is taken when it is one
    of them, as browsers default to it for an undeclared page; else the best.
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(payload))
    if not matches:
        return None
    calm = min(m.chaos for m in matches)
    for match in matches:
        if match.chaos <= calm and PREFERRED_DETECTED in match.could_be_from_charset:
            return PREFERRED_DETECTED
    return matches[0].encoding


def decode_payload(
    payload: bytes, declared: list[str | None]
) -> tuple[str | None, str | None, str, bool]:
    """(text, charset used, detail, detected): the declared charsets, UTF-8, then detection.

    A declared charset Python does not know is skipped. When none of them decodes
    the bytes, the charset is detected (:func:`detect_charset`) and ``detected``
    is True. ``text`` is None when nothing decodes the bytes; ``detail`` then
    says what was tried.
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
            return payload.decode(codec), codec, "", False
        except UnicodeDecodeError as exc:
            errors.append(f"{codec}: byte {exc.start}: {exc.reason}")
    found = detect_charset(payload)
    if found is not None:
        try:
            return payload.decode(found), codecs.lookup(found).name, "", True
        except UnicodeDecodeError as exc:  # detection is a guess; it may still fail
            errors.append(f"detected {found}: byte {exc.start}: {exc.reason}")
    else:
        errors.append("no charset detected")
    return None, None, "; ".join(errors), False


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


# --------------------------------------------------------------------------- splitting


@dataclass
class Span:
    """A piece of the file: one record's bytes (``data``), or why there is none."""

    start: int  # byte offsets in the file as stored
    end: int
    data: bytes | None = None
    error: str | None = None  # unreadable_record or truncated_record
    detail: str = ""


def _skip_blank(buf: Any, pos: int) -> int:
    n = len(buf)
    while pos < n and buf[pos : pos + 1] in (b" ", b"\t", b"\r", b"\n"):
        pos += 1
    return pos


def _next_header(buf: Any, start: int) -> int:
    """Offset of the next ``WARC/1.`` line after ``start`` (len(buf) when none)."""
    found = buf.find(b"\nWARC/1.", start)
    return len(buf) if found < 0 else found + 1


def _split_records(buf: Any) -> Iterator[tuple[int, int, bytes | None, str | None, str]]:
    """(start, end, record bytes, error, detail) for every record of uncompressed ``buf``.

    The spans tile ``buf``. A record is its header, a blank line and Content-Length
    bytes, followed by blank lines and then the next ``WARC/`` header or the end.
    """
    n = len(buf)
    pos = 0
    while pos < n:
        start = pos
        pos = _skip_blank(buf, pos)
        if pos >= n:  # trailing blank lines belong to the record before
            yield start, n, None, None, ""
            return
        if buf[pos : pos + 5] != b"WARC/":
            nxt = _next_header(buf, pos)
            yield start, nxt, None, "unreadable_record", "no WARC header"
            pos = nxt
            continue
        head_end = buf.find(b"\r\n\r\n", pos, pos + MAX_HEADER_BYTES)
        if head_end < 0:
            nxt = _next_header(buf, pos)
            if nxt >= n and n - pos < MAX_HEADER_BYTES:
                yield start, n, None, "truncated_record", "the file ends inside a WARC header"
                return
            yield start, nxt, None, "unreadable_record", "a WARC header without its end"
            pos = nxt
            continue
        match = _CONTENT_LENGTH.search(buf[pos : head_end + 2])
        if match is None:
            nxt = _next_header(buf, pos)
            yield start, nxt, None, "unreadable_record", "a WARC header without Content-Length"
            pos = nxt
            continue
        length = int(match.group(1))
        body_end = head_end + 4 + length
        if body_end > n:
            nxt = _next_header(buf, head_end)
            if nxt >= n:
                detail = f"ends {body_end - n} bytes before its Content-Length {length}"
                yield start, n, None, "truncated_record", detail
                return
            detail = f"Content-Length {length} runs past the next record"
            yield start, nxt, None, "unreadable_record", detail
            pos = nxt
            continue
        after = _skip_blank(buf, body_end)
        closed = buf[body_end : body_end + 4] == b"\r\n\r\n"  # as the standard ends a record
        if not closed and after < n and buf[after : after + 5] != b"WARC/":
            nxt = _next_header(buf, head_end)
            detail = f"Content-Length {length} does not end at a record boundary"
            yield start, nxt, None, "unreadable_record", detail
            pos = nxt
            continue
        yield start, after, bytes(buf[pos:body_end]), None, ""
        pos = after


class _Sink:
    """Decompressed bytes: in memory up to ``SPILL_BYTES``, then in a temporary file
    (made only then: a crawl file has tens of thousands of small members)."""

    def __init__(self) -> None:
        self.held = bytearray()
        self.spill: IO[bytes] | None = None

    def add(self, out: bytes) -> None:
        self.held += out
        if len(self.held) > SPILL_BYTES or (self.spill and len(self.held) >= _CHUNK):
            if self.spill is None:
                self.spill = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            self.spill.write(self.held)
            self.held.clear()

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()


def _inflate(data: Any, pos: int, sink: _Sink, first: int, largest: int) -> tuple[int, str]:
    """Decompress the gzip member at ``pos`` into ``sink``, in input chunks from
    ``first`` bytes doubling to ``largest``: (end offset, problem)."""
    decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
    at, size = pos, first
    while at < len(data):
        chunk = data[at : at + size]
        size = min(size * 2, largest)
        try:
            out = decomp.decompress(chunk, _CHUNK)
            while True:
                sink.add(out)
                if decomp.eof or not (decomp.unconsumed_tail or len(out) == _CHUNK):
                    break  # this chunk is used up (output may be pending: ask again)
                out = decomp.decompress(decomp.unconsumed_tail, _CHUNK)
        except zlib.error as exc:
            return at, f"corrupt gzip data ({exc})"
        if decomp.eof:
            return at + len(chunk) - len(decomp.unused_data), ""
        at += len(chunk)
    return len(data), "cut"


@contextlib.contextmanager
def _gunzip_member(data: Any, pos: int) -> Iterator[tuple[Any, int, str]]:
    """(decompressed bytes, end offset, problem) of the gzip member at ``pos``.

    ``data`` is a memoryview (no copies); the input is fed in chunks that double
    from 16 KiB, so a small member (one record of a Common Crawl file) costs little.
    A member that decompresses to more than ``SPILL_BYTES`` (a WARC gzipped as one
    stream) goes to a temporary file, mapped while its records are read, so memory
    stays bounded whatever its size. With a problem ("cut" at the end of the file, or
    corrupt data), the bytes decompressed before it come with it (for corrupt data,
    those before the 1 KiB of input where zlib noticed it: a second pass finds them).
    """
    sink = _Sink()
    try:
        end, problem = _inflate(data, pos, sink, _FIRST_CHUNK, _CHUNK)
        if problem.startswith("corrupt"):
            sink.close()
            sink = _Sink()
            end, problem = _inflate(data, pos, sink, _SMALL_CHUNK, _SMALL_CHUNK)
        if sink.spill is None:
            yield sink.held, end, problem
            return
        sink.spill.write(sink.held)
        sink.spill.flush()
        mapped = mmap.mmap(sink.spill.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            yield mapped, end, problem
        finally:
            mapped.close()
    finally:
        sink.close()


def _whole_records(member: Any, corrupt: bool) -> list[bytes]:
    """The records at the start of ``member`` (a stream that breaks off later) that
    were decompressed whole: those before the first span that is no record. After
    corrupt data the last of them is left out too, since damage can show some bytes
    after it happened."""
    records = []
    for _, _, record, error, _ in _split_records(member):
        if error:
            break
        if record is not None:
            records.append(record)
    return records[:-1] if corrupt else records


def _gzip_spans(data: Any) -> Iterator[Span]:
    """The records of a gzipped file, member by member, resyncing after corrupt ones.

    Records inside a member carry the member's offsets (each member of a Common
    Crawl file holds one record). A member that holds several records (a file
    gzipped as one stream) and breaks off, cut or corrupt, still gives the records
    decompressed whole before the break (at least two of them, so a one-record
    member with a bad checksum is never taken); the rest is one row.
    """
    view = memoryview(data)
    try:
        n = len(data)
        pos = 0
        bad_start: int | None = None
        bad_detail = ""
        while pos < n:
            with _gunzip_member(view, pos) as (member, end, problem):
                if problem:
                    cut = problem == "cut"
                    whole = [] if bad_start is not None else _whole_records(member, not cut)
                    salvaged = ""
                    if len(whole) >= 2:  # a stream of records, not one record's member
                        for record in whole:
                            yield Span(pos, pos, data=record)
                        salvaged = f" after {len(whole)} whole records"
                        problem += salvaged
                    nxt = data.find(_GZIP_MAGIC, pos + 1)
                    if bad_start is None:
                        bad_start, bad_detail = pos, problem
                    if nxt < 0:
                        if cut and bad_start == pos:
                            detail = f"gzip member at byte offset {pos} is cut off at end of file"
                            detail += f" ({n} bytes){salvaged}"
                            yield Span(pos, n, error="truncated_record", detail=detail)
                        else:
                            yield Span(bad_start, n, error="unreadable_record", detail=bad_detail)
                        return
                    pos = nxt
                    continue
                if bad_start is not None:
                    yield Span(bad_start, pos, error="unreadable_record", detail=bad_detail)
                    bad_start = None
                for _, _, record, error, detail in _split_records(member):
                    where = f"in the gzip member at byte offset {pos}"
                    if error:
                        yield Span(pos, end, error="unreadable_record", detail=f"{detail} {where}")
                    elif record is not None:
                        yield Span(pos, end, data=record)
            pos = end
        if bad_start is not None:  # pragma: no cover - the loop returns first
            yield Span(bad_start, n, error="unreadable_record", detail=bad_detail)
    finally:
        view.release()  # before the file's mapping closes


def _spans(data: Any) -> Iterator[Span]:
    if data[:2] == _GZIP_MAGIC[:2]:
        yield from _gzip_spans(data)
        return
    for start, end, record, error, detail in _split_records(data):
        if error or record is not None:
            yield Span(start, end, data=record, error=error, detail=detail)


def _tiled(spans: Iterator[Span], size: int, tally: Counter | None) -> Iterator[Span]:
    """The spans, each grown to start where the previous ended; bytes counted in ``tally``."""
    last = 0
    for span in spans:
        if tally is not None:
            tally[BYTES_READ] += span.end - max(last, span.start)
        last = max(last, span.end)
        yield span
    if tally is not None:
        tally[BYTES_READ] += size - last  # trailing blank lines
        tally[FILE_BYTES] += size


@contextlib.contextmanager
def _file_bytes(stream: IO[bytes]) -> Iterator[Any]:
    """The whole file as a bytes-like object: mapped when it is a real file."""
    try:
        fileno = stream.fileno()
        size = os.fstat(fileno).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        yield stream.read()
        return
    if size == 0:
        yield b""
        return
    mapped = mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
    try:
        yield mapped
    finally:
        mapped.close()


# --------------------------------------------------------------------------- rows


def _fields(record: Any, text: str, content_type: str | None, detected: str | None) -> dict:
    headers = record.rec_headers
    return {
        "text": text,
        "url": headers.get_header("WARC-Target-URI"),
        "warc_date": headers.get_header("WARC-Date"),
        "record_id": headers.get_header("WARC-Record-ID"),
        "content_type": content_type,
        "charset_detected": detected,
    }


def _lossy(data: bytes, limit: int = 2000) -> str:
    return data[:limit].decode("utf-8", errors="replace")


def _parse(data: bytes) -> tuple[Any, bytes, str]:
    """(warcio record, payload, problem with the payload) of one record's bytes."""
    from warcio.archiveiterator import ArchiveIterator

    iterator = ArchiveIterator(io.BytesIO(data + b"\r\n\r\n"), ensure_http_headers=False)
    record = next(iter(iterator))
    try:
        body = record.content_stream().read()
    except Exception as exc:  # a broken chunked/compressed payload
        return record, b"", f"{type(exc).__name__}: {exc}"
    return record, body, ""


def _iter_records(
    stream: IO[bytes],
    wanted: str,
    convert: Callable[[Any, bytes], RawRow],
    skipped: Counter | None,
) -> Iterator[RawRow]:
    """Every record of type ``wanted`` converted to a row; unreadable spans as rows."""
    with _file_bytes(stream) as data:
        spans = _tiled(_spans(data), len(data), skipped)
        try:
            yield from _rows(spans, wanted, convert, skipped)
        finally:
            spans.close()  # the readers let go of the mapping before it closes


def _rows(
    spans: Iterator[Span],
    wanted: str,
    convert: Callable[[Any, bytes], RawRow],
    skipped: Counter | None,
) -> Iterator[RawRow]:
    """The rows of the spans (see :func:`_iter_records`)."""
    number = 0
    for span in spans:
        number += 1
        offsets = f"byte offset {span.start} to {span.end}"
        if span.error:
            detail = f"{offsets}: {span.detail}"
            yield RawRow(number, error=span.error, detail=detail)
            continue
        try:
            record, body, broken = _parse(span.data)
        except Exception as exc:  # warcio refuses the header or the HTTP head
            detail = f"{offsets}: {type(exc).__name__}: {exc}"
            yield RawRow(number, error="unreadable_record", detail=detail)
            continue
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


def iter_wet(stream: IO[bytes], skipped: Counter | None = None) -> Iterator[RawRow]:
    """Rows of a WET file (plain or gzipped): one per ``conversion`` record."""

    def convert(record: Any, body: bytes) -> RawRow:
        content_type = record.rec_headers.get_header("Content-Type")
        declared = [_charset_of(content_type)]
        text, charset, detail, detected = decode_payload(body, declared)
        if text is None:
            return RawRow(0, error="invalid_utf8", detail=detail, raw=_lossy(body))
        if not text.strip():
            return RawRow(0, error="no_text", detail="empty conversion record", raw=text)
        found = charset if detected else None
        return RawRow(0, fields=_fields(record, text.strip(), content_type, found))

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
        declared = [_charset_of(content_type), _meta_charset(body)]
        html, charset, detail, detected = decode_payload(body, declared)
        if html is None:
            return RawRow(0, error="invalid_utf8", detail=detail, raw=_lossy(body))
        text = extract(html) if html.strip() else None
        if not text or not text.strip():
            return RawRow(
                0,
                error="no_text",
                detail=f"no main text extracted ({len(body)} bytes, {charset})",
                raw=html[:2000],
            )
        found = charset if detected else None
        return RawRow(0, fields=_fields(record, text.strip(), content_type, found))

    return _iter_records(stream, "response", convert, skipped)
