"""Common Crawl readers: WET conversion records and WARC HTML responses as seed rows."""

from __future__ import annotations

import gzip
import io
import re
from collections import Counter

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter
from web_pages import member_offsets, wet_file

from corpusforge import web
from corpusforge.web import BYTES_READ, FILE_BYTES, decode_payload, iter_warc, iter_wet

EN_PARAS = [
    "The river runs through the old town and past the mill that was built in 1820.",
    "Every spring the water rises and the people who live near the bank move their boats.",
    "Local historians have written several books about the floods and the rebuilding.",
]
ZH_PARAS = [
    "这座古老的城市位于长江边上，已经有两千多年的历史了。",
    "每年春天，来自全国各地的游客都会到这里欣赏盛开的樱花和古老的建筑。",
    "当地的历史学家写了很多关于这座城市变迁的书籍，记录了它的兴衰。",
]


# Bytes no charset decodes to text (served as HTML): the one page that stays rejected.
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def documents(skipped: Counter) -> dict:
    """The record types counted in ``skipped``, without the byte accounting."""
    return {k: v for k, v in skipped.items() if k not in (BYTES_READ, FILE_BYTES)}


def page(title: str, paras: list[str], head: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        f"<html><head>{head}<title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Copyright</footer></body></html>"
    )


def response(writer, url, payload: bytes, content_type: str, status="200 OK"):
    headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    return writer.create_warc_record(
        url, "response", payload=io.BytesIO(payload), length=len(payload), http_headers=headers
    )


def warc_bytes(gzip: bool = True) -> bytes:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip)
    w.write_record(w.create_warcinfo_record("test.warc.gz", {"software": "test"}))
    utf8 = page("River town", EN_PARAS).encode("utf-8")
    get = StatusAndHeaders("GET / HTTP/1.1", [("Host", "en.example")], is_http_request=True)
    request = w.create_warc_record(
        "http://en.example/", "request", payload=io.BytesIO(b""), length=0, http_headers=get
    )
    w.write_record(request)
    w.write_record(response(w, "http://en.example/", utf8, "text/html; charset=utf-8"))
    gbk = page("古城", ZH_PARAS).encode("gbk")
    w.write_record(response(w, "http://zh.example/", gbk, "text/html; charset=GBK"))
    meta = page("古城", ZH_PARAS, head='<meta charset="gb2312">').encode("gb2312")
    w.write_record(response(w, "http://meta.example/", meta, "text/html"))
    latin = page("Café Müller", [p + " Café, naïve, Müller." for p in EN_PARAS])
    w.write_record(response(w, "http://latin.example/", latin.encode("latin-1"), "text/html"))
    w.write_record(response(w, "http://binary.example/", BINARY, "text/html"))
    w.write_record(response(w, "http://img.example/a.png", b"\x89PNG....", "image/png"))
    w.write_record(response(w, "http://empty.example/", b"<html><body></body></html>", "text/html"))
    return buf.getvalue()


def test_warc_rows_charsets_and_reasons():
    skipped = Counter()
    data = warc_bytes()
    rows = list(iter_warc(io.BytesIO(data), skipped=skipped))
    assert documents(skipped) == {"warcinfo": 1, "request": 1}
    assert skipped[BYTES_READ] == skipped[FILE_BYTES] == len(data)
    assert [r.row for r in rows] == [3, 4, 5, 6, 7, 8, 9]
    en, gbk, meta, latin, binary, png, empty = rows
    assert en.error is None and en.fields["url"] == "http://en.example/"
    assert "mill that was built in 1820" in en.fields["text"]
    assert "Copyright" not in en.fields["text"]  # boilerplate left out by trafilatura
    assert en.fields["record_id"].startswith("<urn:uuid:")
    assert en.fields["warc_date"] and en.fields["content_type"] == "text/html; charset=utf-8"
    # GBK declared in the HTTP header; GB2312 only in <meta>.
    assert gbk.error is None and "长江边上" in gbk.fields["text"]
    assert meta.error is None and "樱花" in meta.fields["text"]
    assert en.fields["charset_detected"] is None and gbk.fields["charset_detected"] is None
    # latin-1 with no declaration is not UTF-8: decoded by detection, and flagged.
    assert latin.error is None and "Café, naïve, Müller." in latin.fields["text"]
    assert latin.fields["charset_detected"] == "cp1252"
    # only bytes nothing decodes are rejected
    assert binary.error == "invalid_utf8" and "no charset detected" in binary.detail
    assert png.error == "not_html" and "image/png" in png.detail
    assert empty.error == "no_text"


def test_warc_uncompressed_reads_the_same():
    def key(data):
        rows = iter_warc(io.BytesIO(data))
        return [(r.row, r.error, r.fields and (r.fields["url"], r.fields["text"])) for r in rows]

    assert key(warc_bytes(gzip=False)) == key(warc_bytes(gzip=True))


def test_declared_charset_first_then_utf8():
    text = "长江"
    assert decode_payload(text.encode("gbk"), ["gbk"])[:2] == (text, "gb18030")
    assert decode_payload(text.encode("utf-8"), [None])[:2] == (text, "utf-8")
    # A wrong declaration falls back to UTF-8; unknown labels are skipped.
    assert decode_payload("é".encode(), ["x-unknown"])[0] == "é"
    out, used, detail, detected = decode_payload(BINARY, [None])
    assert out is None and used is None and detail.startswith("utf-8: byte 0") and not detected


def test_a_wrong_declaration_is_overruled_by_detection():
    text = "Grüße aus München: schöne Straßen, süße Äpfel und Öl für die Küche."
    out, used, _, detected = decode_payload(text.encode("latin-1"), ["utf-8"])
    assert (out, used, detected) == (text, "cp1252", True)
    zh = "这座古老的城市位于长江边上，已经有两千多年的历史了。" * 3
    out, used, _, detected = decode_payload(zh.encode("gbk"), ["utf-8"])
    assert out == zh and detected and used == "gb18030"
    # a page that decodes as declared is never re-detected
    assert decode_payload(text.encode("utf-8"), ["utf-8"]) == (text, "utf-8", "", False)


def wet_bytes(gzip: bool = True) -> bytes:
    pages = {
        "http://en.example/": "\n".join(EN_PARAS),
        "http://zh.example/": "\n".join(ZH_PARAS),
        "http://blank.example/": "  \n ",
        "http://bad.example/": b"caf\xe9 au lait",
    }
    return wet_file(pages, gzip=gzip)


def test_wet_rows():
    skipped = Counter()
    rows = list(iter_wet(io.BytesIO(wet_bytes()), skipped=skipped))
    assert documents(skipped) == {"warcinfo": 1}
    assert [r.row for r in rows] == [2, 3, 4, 5]
    en, zh, blank, bad = rows
    assert en.fields["text"] == "\n".join(EN_PARAS)
    assert zh.fields["text"] == "\n".join(ZH_PARAS) and zh.fields["url"] == "http://zh.example/"
    assert en.fields["content_type"] == "text/plain"
    assert blank.error == "no_text"
    assert bad.error is None and bad.fields["text"] == "café au lait"
    assert bad.fields["charset_detected"] == "cp1252"


@pytest.mark.parametrize("cut", [10, 60, 200])
def test_truncated_gzip_member_yields_a_row_naming_the_offset(cut):
    data = wet_bytes()
    full = list(iter_wet(io.BytesIO(data)))
    rows = list(iter_wet(io.BytesIO(data[:-cut])))
    last = rows[-1]
    assert last.error == "truncated_record"
    assert "byte offset" in last.detail
    # the rows before the cut are read as in the whole file
    assert [(r.row, r.fields) for r in rows[:-1]] == [
        (r.row, r.fields) for r in full[: len(rows) - 1]
    ]
    assert len(rows) <= len(full) + 1
    offset = int(last.detail.split("byte offset ")[1].split()[0])
    assert 0 < offset < len(data) - cut


@pytest.mark.parametrize("cut", [5, 30])
def test_truncated_uncompressed_record(cut):
    data = wet_bytes(gzip=False)
    rows = list(iter_wet(io.BytesIO(data[:-cut])))
    assert rows[-1].error == "truncated_record"
    detail = rows[-1].detail  # 5 bytes: the body is cut; 30: the header is
    assert "before its Content-Length" in detail if cut == 5 else "inside a WARC header" in detail
    assert [r.error for r in rows[:-1]] == [None, None, "no_text"]
    assert "byte offset" in rows[-1].detail


# ---------------------------------------------------------------- resync after corruption


def pages_wet(n: int, gzip: bool) -> tuple[bytes, list[str]]:
    texts = [f"Page {i}: " + " ".join(EN_PARAS) for i in range(n)]
    return wet_file({f"http://p{i}.example/": t for i, t in enumerate(texts)}, gzip=gzip), texts


def test_a_corrupt_gzip_member_is_one_row_and_every_later_record_is_read():
    data, texts = pages_wet(5, gzip=True)
    starts = member_offsets(data)  # warcinfo, then pages 0..4
    bad_start, bad_end = starts[2], starts[3]  # page 1's member
    broken = bytearray(data)
    for i in range(bad_start + 20, bad_end - 10):
        broken[i] ^= 0x5A  # the deflate stream is garbage, the size unchanged
    skipped = Counter()
    rows = list(iter_wet(io.BytesIO(bytes(broken)), skipped=skipped))
    assert [r.row for r in rows] == [2, 3, 4, 5, 6]
    bad = rows[1]
    assert bad.error == "unreadable_record"
    assert bad.detail.startswith(f"byte offset {bad_start} to {bad_end}:")
    assert [r.fields["text"] for r in rows if r.error is None] == texts[:1] + texts[2:]
    assert skipped[BYTES_READ] == skipped[FILE_BYTES] == len(data)


def test_garbage_between_gzip_members_is_one_row():
    data, texts = pages_wet(3, gzip=True)
    at = member_offsets(data)[2]
    junk = b"not gzip at all " * 20
    rows = list(iter_wet(io.BytesIO(data[:at] + junk + data[at:])))
    assert [r.error for r in rows] == [None, "unreadable_record", None, None]
    assert rows[1].detail.startswith(f"byte offset {at} to {at + len(junk)}:")
    assert [r.fields["text"] for r in rows if r.error is None] == texts


@pytest.mark.parametrize("damage", ["header", "length"])
def test_a_corrupt_uncompressed_record_resyncs_at_the_next_header(damage):
    data, texts = pages_wet(4, gzip=False)
    headers = [i for i in range(len(data)) if data.startswith(b"WARC/1.", i)]
    start, end = headers[2], headers[3]  # page 1
    record = data[start:end]
    if damage == "header":
        record = b"XXXX" + record[4:]
    else:  # a Content-Length that does not end where the record does
        record = re.sub(rb"Content-Length: (\d+)", lambda m: b"Content-Length: 7", record)
    broken = data[:start] + record + data[end:]
    skipped = Counter()
    rows = list(iter_wet(io.BytesIO(broken), skipped=skipped))
    assert [r.error for r in rows] == [None, "unreadable_record", None, None]
    new_end = start + len(record)
    assert rows[1].detail.startswith(f"byte offset {start} to {new_end}:")
    assert [r.fields["text"] for r in rows if r.error is None] == [texts[0], *texts[2:]]
    assert skipped[BYTES_READ] == skipped[FILE_BYTES] == len(broken)


# ---------------------------------------------------------------- a file gzipped as one stream


def one_stream(n: int) -> tuple[bytes, list[str]]:
    """A WET file of a warcinfo and ``n`` pages, gzipped whole (not a member per record)."""
    plain, texts = pages_wet(n, gzip=False)
    return gzip.compress(plain, mtime=0), texts


def rows_of(data: bytes, tmp_path=None) -> tuple[list, Counter]:
    skipped = Counter()
    if tmp_path is None:
        return list(iter_wet(io.BytesIO(data), skipped=skipped)), skipped
    path = tmp_path / "file.warc.wet.gz"  # a real file: read through its mapping
    path.write_bytes(data)
    with path.open("rb") as stream:
        return list(iter_wet(stream, skipped=skipped)), skipped


def test_one_stream_reads_as_members_do():
    stream, texts = one_stream(6)
    rows, skipped = rows_of(stream)
    assert [r.fields["text"] for r in rows] == texts
    assert [r.row for r in rows] == [2, 3, 4, 5, 6, 7]
    assert skipped[BYTES_READ] == skipped[FILE_BYTES] == len(stream)


def test_a_large_stream_goes_through_a_temporary_file(tmp_path, monkeypatch):
    stream, texts = one_stream(40)
    expected = [(r.row, r.fields) for r in rows_of(stream)[0]]
    monkeypatch.setattr(web, "SPILL_BYTES", 1000)  # the 40 pages are ~12 KB
    spills = []
    real = web.tempfile.TemporaryFile

    def counted(*args, **kwargs):
        handle = real(*args, **kwargs)
        spills.append(handle)
        return handle

    monkeypatch.setattr(web.tempfile, "TemporaryFile", counted)
    rows, skipped = rows_of(stream, tmp_path)
    assert [(r.row, r.fields) for r in rows] == expected
    assert [r.fields["text"] for r in rows] == texts
    assert spills and all(handle.closed for handle in spills)
    assert skipped[BYTES_READ] == skipped[FILE_BYTES] == len(stream)


def test_a_cut_stream_keeps_its_whole_records(tmp_path):
    stream, texts = one_stream(30)
    cut = stream[: len(stream) // 2]
    rows, skipped = rows_of(cut, tmp_path)
    last = rows[-1]
    assert last.error == "truncated_record"
    assert "cut off at end of file" in last.detail and "whole records" in last.detail
    kept = [r.fields["text"] for r in rows[:-1]]
    assert 2 <= len(kept) < 30 and kept == texts[: len(kept)]
    assert all(r.error is None for r in rows[:-1])
    assert skipped[BYTES_READ] == skipped[FILE_BYTES] == len(cut)


def test_a_corrupt_stream_keeps_the_records_before_the_damage():
    stream, texts = one_stream(30)
    broken = bytearray(stream)
    middle = len(stream) // 2
    for i in range(middle, middle + 200):
        broken[i] ^= 0x5A
    rows, skipped = rows_of(bytes(broken))
    bad = rows[-1]
    assert bad.error == "unreadable_record" and "corrupt gzip data" in bad.detail
    kept = [r.fields["text"] for r in rows[:-1]]
    # the record in which the damage showed and the one before it are not kept
    assert 2 <= len(kept) < 29 and kept == texts[: len(kept)]
    assert skipped[BYTES_READ] == skipped[FILE_BYTES] == len(broken)


def test_an_unreadable_record_is_a_rejected_row_of_the_seed(tmp_path):
    from corpusforge.seed import SeedSpec, ingest_file

    data, _ = pages_wet(3, gzip=True)
    at = member_offsets(data)[2]
    path = tmp_path / "junk.warc.wet.gz"
    junk = b"\x1f\x8b\x08 broken member"
    path.write_bytes(data[:at] + junk + data[at:])
    records, rejects, stats = ingest_file(path, SeedSpec("crawl", kind="documents"))
    assert stats["in"] == 4 and stats["kept"] == 3 and len(records) == 3
    assert list(rejects["reason"]) == ["unreadable_record"]
    assert rejects["detail"].iloc[0].startswith(f"byte offset {at} to {at + len(junk)}:")
    assert str(path) in rejects["source"].iloc[0]


# ---------------------------------------------------------------- as seeds


def test_crawl_file_names_give_their_format():
    from pathlib import Path

    from corpusforge.seed import detect_format

    assert detect_format(Path("CC-MAIN-20240101-00000.warc.gz")) == ("warc", "gzip")
    assert detect_format(Path("CC-MAIN-20240101-00000.warc.wet.gz")) == ("wet", "gzip")
    assert detect_format(Path("pages.warc")) == ("warc", "none")


LATIN = "http://latin.example/"


def test_warc_seed_every_record_kept_or_rejected(tmp_path):
    from corpusforge.seed import SeedSpec, ingest_file

    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(warc_bytes())
    records, rejects, stats = ingest_file(path, SeedSpec("crawl", kind="documents"))
    # seven responses: three pages kept; the GB2312 page has the GBK page's text
    assert stats["in"] == 7 and stats["kept"] == 3 and stats["rejected"] == 4
    assert stats["records_without_document"] == {"request": 1, "warcinfo": 1}
    assert dict(zip(rejects["row"], rejects["reason"], strict=True)) == {
        5: "duplicate_text",
        7: "invalid_utf8",
        8: "not_html",
        9: "no_text",
    }
    assert set(records["kind"]) == {"documents"}
    by_url = records.set_index("url")
    assert set(by_url.index) == {"http://en.example/", "http://zh.example/", LATIN}
    assert by_url.loc[LATIN, "charset_detected"] == "cp1252"
    assert by_url["charset_detected"].drop(LATIN).isna().all()
    counts = stats["files"]["crawl.warc.gz"]
    assert counts["bytes_read"] == counts["file_bytes"] == path.stat().st_size
    assert (counts["in"], counts["kept"], counts["rejected"]) == (7, 3, 4)
    assert set(records["source_file"]) == {"crawl.warc.gz"}
    zh = by_url.loc["http://zh.example/"]
    assert zh["lang"] == "zh" and "长江边上" in zh["text"]
    assert zh["record_id"].startswith("<urn:uuid:") and zh["source_id"] == zh["record_id"]
    assert zh["warc_date"].startswith("20")


def test_truncated_wet_seed_keeps_what_came_before(tmp_path):
    from corpusforge.seed import SeedSpec, ingest_file

    path = tmp_path / "cut.warc.wet.gz"
    path.write_bytes(wet_bytes()[:-20])
    records, rejects, stats = ingest_file(path, SeedSpec("cut", kind="documents"))
    assert stats["in"] == stats["kept"] + stats["rejected"]
    assert len(records) == 2  # en and zh came before the cut
    cut = rejects[rejects["reason"] == "truncated_record"]
    assert len(cut) == 1 and "byte offset" in cut["detail"].iloc[0]
    assert set(rejects["reason"]) == {"no_text", "truncated_record"}
