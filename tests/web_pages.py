"""Crafted web pages for the web-mode workflow tests, each meant for one fate."""

from __future__ import annotations

import io
import zlib

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

GOOD_EN = {
    "http://garden.example/tomatoes": (
        "Growing tomatoes on a small balcony is easier than most people think.\n"
        "The plants need at least six hours of direct sun and a pot that holds twenty "
        "litres of soil.\n"
        "Water them deeply in the morning, and let the top of the soil dry out before "
        "you water again.\n"
        "A stake or a cage keeps the stems upright once the first fruit starts to form.\n"
        "Pinch off the small shoots that grow between the main stem and the leaves, so "
        "that the plant puts its energy into the fruit.\n"
        "By the end of summer a single plant can give you several kilograms of ripe "
        "tomatoes."
    ),
    "http://history.example/printing": (
        "The printing press changed the way that knowledge moved through Europe.\n"
        "Before it arrived, books were copied by hand, and a single Bible could take a "
        "scribe more than a year.\n"
        "Movable metal type made it possible to print hundreds of identical pages in a "
        "single day.\n"
        "Within fifty years of the first presses, millions of books were in circulation "
        "across the continent.\n"
        "Cheaper books meant that more people learned to read, and new ideas spread "
        "faster than ever before.\n"
        "Historians still argue about how much of the later scientific revolution we owe "
        "to this one machine."
    ),
    "http://cycling.example/chains": (
        "A clean chain makes a bicycle quieter, faster and much cheaper to maintain.\n"
        "Dirt mixed with old oil turns into a paste that slowly grinds away the teeth of "
        "the gears.\n"
        "Wipe the chain with a rag after every wet ride, and clean it properly with a "
        "degreaser once a month.\n"
        "When it is dry, put one drop of lubricant on each link and wipe off whatever "
        "stays on the outside.\n"
        "Measure the chain with a simple gauge from time to time, because a stretched "
        "chain wears out the cassette.\n"
        "Replacing a chain costs far less than replacing the whole drive train of the "
        "bike."
    ),
}
# The first page with two words changed: a near-duplicate for MinHash.
NEAR_DUP_URL = "http://mirror.example/tomatoes"
NEAR_DUP = (
    GOOD_EN["http://garden.example/tomatoes"]
    .replace("easier", "simpler")
    .replace("several", "many")
)
GOOD_ZH = {
    "http://tea.example/green": (
        "绿茶是中国最古老的茶类之一，已经有几千年的历史了。\n"
        "新鲜的茶叶采摘以后，要经过杀青、揉捻和干燥这几个步骤。\n"
        "杀青的目的是用高温停止茶叶的发酵，这样才能保持它的绿色和清香。\n"
        "泡绿茶的水温不要太高，一般在八十度左右就可以了。\n"
        "如果水太烫，茶汤就会变得苦涩，香气也会很快散掉。\n"
        "很多人喜欢在春天喝新茶，因为这时候的味道是一年里最鲜的。\n"
        "喝完的茶叶不要马上倒掉，可以再泡两到三次，每一次的味道都不太一样。\n"
        "保存绿茶的时候要注意防潮和避光，最好放在密封的罐子里，再放进冰箱冷藏。\n"
        "这样保存的茶叶，过了半年以后拿出来泡，颜色和香气也不会有太大的变化。"
    ),
}
WARC_EN_URL = "http://lake.example/ice"
WARC_EN = [
    "Lake ice forms from the top down, because water is densest at about four degrees.",
    "On a calm and cold night a thin clear sheet can cover a small lake in a few hours.",
    "Clear black ice is the strongest kind, while white ice full of air bubbles is weaker.",
    "Experts say that ten centimetres of clear ice will hold a single person on foot.",
    "Ice near inflowing streams and reeds is often much thinner than it looks from shore.",
    "Always check the thickness in several places before you walk out on a frozen lake.",
]
QUIZ_LINE = (
    "Which planet in our solar system has the shortest day of all, spinning once in "
    "under ten hours?"
)
CONTAMINATED_URL = "http://quiz.example/planets"
CONTAMINATED = (
    "Our astronomy club meets every Friday evening in the library of the old school.\n"
    "Last week the quiz master asked a question that nobody in the room could answer.\n"
    f"{QUIZ_LINE}\n"
    "The answer is Jupiter, which turns once in a little less than ten hours.\n"
    "Its fast spin flattens the planet, so that it is wider at the equator than from "
    "pole to pole.\n"
    "Next month we will set up the telescopes in the park and look at its moons."
)
# Pages meant to fail a filter, and the reason.
FILTERED = {
    "http://shop.example/bread": (
        "The shop on the corner sells fresh bread and milk every morning until the "
        "afternoon.",
        "gopher_quality.word_count",
    ),
    "http://spam.example/deals": (
        "\n".join(
            ["Click here for the best deals on shoes and bags today."] * 6
            + list(GOOD_EN["http://cycling.example/chains"].split("\n")[:2])
        ),
        "gopher_repetition.dup_line_fraction",
    ),
    "http://draft.example/page": (
        GOOD_EN["http://history.example/printing"].replace("printing press", "steam engine")
        .replace("Movable metal type", "Steam power")
        + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.",
        "c4.lorem_ipsum",
    ),
}  # fmt: skip
FRENCH_URL = "http://jardin.example/"
FRENCH = (
    "Le jardin de ma grand-mère était plein de fleurs et de légumes pendant tout l'été.\n"
    "Elle se levait très tôt pour arroser les plantes avant la chaleur de la journée.\n"
    "Nous mangions ensemble les tomates et les haricots qu'elle avait cultivés elle-même."
)


def wet_file(pages: dict[str, str | bytes], gzip: bool = True) -> bytes:
    """A WET file: a warcinfo record, then one conversion record a page (str: UTF-8)."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip)
    writer.write_record(writer.create_warcinfo_record("test.warc.wet.gz", {"software": "test"}))
    for url, text in pages.items():
        record = writer.create_warc_record(
            url,
            "conversion",
            payload=io.BytesIO(text.encode("utf-8") if isinstance(text, str) else text),
            warc_content_type="text/plain",
        )
        writer.write_record(record)
    return buf.getvalue()


def html(title: str, paras: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>All rights reserved</footer>"
        "</body></html>"
    )


# Served as HTML, decoded by no charset: rejected as invalid_utf8.
BINARY_PAGE = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
# A latin-1 page served without a charset: decoded by detection (cp1252), too short to keep.
LATIN_URL = "http://latin.example/"
LATIN_TEXT = "Café Müller opens at nine."


def warc_file() -> bytes:
    """An HTML page to extract, a latin-1 page without a charset (decoded by
    detection), bytes no charset decodes, an image."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    writer.write_record(writer.create_warcinfo_record("test.warc.gz", {"software": "test"}))
    pages = [
        (WARC_EN_URL, html("Lake ice", WARC_EN).encode("utf-8"), "text/html; charset=utf-8"),
        (LATIN_URL, html("Café", [LATIN_TEXT]).encode("latin-1"), "text/html"),
        ("http://binary.example/", BINARY_PAGE, "text/html"),
        ("http://img.example/logo.png", b"\x89PNG\r\n\x1a\n....", "image/png"),
    ]  # fmt: skip
    for url, payload, content_type in pages:
        headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(payload),
                length=len(payload),
                http_headers=headers,
            )
        )
    return buf.getvalue()


def crawl_pages() -> dict[str, str]:
    """Every page of the WET seed, by URL."""
    return {
        **GOOD_EN,
        NEAR_DUP_URL: NEAR_DUP,
        **GOOD_ZH,
        CONTAMINATED_URL: CONTAMINATED,
        **{url: text for url, (text, _) in FILTERED.items()},
        FRENCH_URL: FRENCH,
    }


class CrawlServer:
    """Files served from memory on 127.0.0.1, as a crawl's host serves them.

    ``ranges``: answer ``Range: bytes=N-`` with 206 and the rest (else 200 and the
    whole file). ``faults[path]``: what the first requests of a path get, one
    entry a request: ``503`` (an error status), or ``("cut", n)`` (the headers
    announce the whole body, n bytes come, the connection closes).
    ``requests``: (path, Range header) of every request.
    """

    def __init__(self, files: dict[str, bytes], ranges: bool = True):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.files = files
        self.ranges = ranges
        self.faults: dict[str, list] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _answer(self, handler) -> None:
        path = handler.path.split("?")[0]
        asked = handler.headers.get("Range")
        self.requests.append((path, asked))
        handler.close_connection = True
        if path not in self.files:
            handler.send_error(404)
            return
        fault = self.faults.get(path, []).pop(0) if self.faults.get(path) else None
        if isinstance(fault, int):
            handler.send_error(fault)
            return
        body = self.files[path]
        start = int(asked.split("=")[1].split("-")[0]) if asked and self.ranges else 0
        if start >= len(body) and start:
            handler.send_error(416)
            return
        handler.send_response(206 if start else 200)
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        handler.send_header("Content-Length", str(len(body) - start))
        handler.end_headers()
        rest = body[start:]
        handler.wfile.write(rest[: fault[1]] if fault else rest)
        handler.wfile.flush()

    def __enter__(self) -> CrawlServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def member_offsets(data: bytes) -> list[int]:
    """Start of every gzip member of a file."""
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        d.decompress(data[pos:])
        pos = len(data) - len(d.unused_data)
    return starts
