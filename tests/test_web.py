"""Common Crawl readers: WET conversion records and WARC HTML responses as seed rows."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter
from web_pages import wet_file

from corpusforge.web import decode_payload, iter_warc, iter_wet

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
    w.write_record(response(w, "http://img.example/a.png", b"\x89PNG....", "image/png"))
    w.write_record(response(w, "http://empty.example/", b"<html><body></body></html>", "text/html"))
    return buf.getvalue()


def test_warc_rows_charsets_and_reasons():
    skipped = Counter()
    rows = list(iter_warc(io.BytesIO(warc_bytes()), skipped=skipped))
    assert skipped == {"warcinfo": 1, "request": 1}
    assert [r.row for r in rows] == [3, 4, 5, 6, 7, 8]
    en, gbk, meta, latin, png, empty = rows
    assert en.error is None and en.fields["url"] == "http://en.example/"
    assert "mill that was built in 1820" in en.fields["text"]
    assert "Copyright" not in en.fields["text"]  # boilerplate left out by trafilatura
    assert en.fields["record_id"].startswith("<urn:uuid:")
    assert en.fields["warc_date"] and en.fields["content_type"] == "text/html; charset=utf-8"
    # GBK declared in the HTTP header; GB2312 only in <meta>.
    assert gbk.error is None and "长江边上" in gbk.fields["text"]
    assert meta.error is None and "樱花" in meta.fields["text"]
    # latin-1 with no declaration is not UTF-8: rejected with the reason, not guessed.
    assert latin.error == "invalid_utf8" and "utf-8" in latin.detail
    assert "Caf" in latin.raw
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
    out, used, detail = decode_payload("é".encode("latin-1"), [None])
    assert out is None and used is None and detail.startswith("utf-8: byte 0")


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
    assert skipped == {"warcinfo": 1}
    assert [r.row for r in rows] == [2, 3, 4, 5]
    en, zh, blank, bad = rows
    assert en.fields["text"] == "\n".join(EN_PARAS)
    assert zh.fields["text"] == "\n".join(ZH_PARAS) and zh.fields["url"] == "http://zh.example/"
    assert en.fields["content_type"] == "text/plain"
    assert blank.error == "no_text"
    assert bad.error == "invalid_utf8" and "caf" in bad.raw


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
    assert "Content-Length" in rows[-1].detail
    assert [r.error for r in rows[:-1]] == [None, None, "no_text"]


# ---------------------------------------------------------------- as seeds


def test_crawl_file_names_give_their_format():
    from pathlib import Path

    from corpusforge.seed import detect_format

    assert detect_format(Path("CC-MAIN-20240101-00000.warc.gz")) == ("warc", "gzip")
    assert detect_format(Path("CC-MAIN-20240101-00000.warc.wet.gz")) == ("wet", "gzip")
    assert detect_format(Path("pages.warc")) == ("warc", "none")


def test_warc_seed_every_record_kept_or_rejected(tmp_path):
    from corpusforge.seed import SeedSpec, ingest_file

    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(warc_bytes())
    records, rejects, stats = ingest_file(path, SeedSpec("crawl", kind="documents"))
    # six responses: two pages kept; the GB2312 page has the GBK page's text
    assert stats["in"] == 6 and stats["kept"] == 2 and stats["rejected"] == 4
    assert stats["records_without_document"] == {"request": 1, "warcinfo": 1}
    assert dict(zip(rejects["row"], rejects["reason"], strict=True)) == {
        5: "duplicate_text",
        6: "invalid_utf8",
        7: "not_html",
        8: "no_text",
    }
    assert set(records["kind"]) == {"documents"}
    by_url = records.set_index("url")
    assert set(by_url.index) == {"http://en.example/", "http://zh.example/"}
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
