"""Assemble the default reference text for the perplexity stage's language models.

Run once by a maintainer on Debian 12 with the packages below installed; the output
files (resources/lm/{en,zh}.txt.xz) are committed, so builds never need these packages:

    apt-get install -y debian-handbook debian-reference-zh-cn python3-doc fortunes-zh
    python resources/lm/assemble.py

Output format: UTF-8 text, one paragraph per line, documents separated by one empty
line, xz-compressed. Sources: the Debian Administrator's Handbook (en-US; zh-CN and
zh-TW), Debian Reference (zh-cn), the Python 3.11 documentation's prose sections and
fortunes-zh's `chinese`. See README.md beside this file for versions and licences.
"""

from __future__ import annotations

import lzma
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
HANDBOOK = Path("/usr/share/doc/debian-handbook/html")
PYDOC = Path("/usr/share/doc/python3.11/html/_sources")
DEBREF = Path("/usr/share/debian-reference")
FORTUNES_ZH = Path("/usr/share/games/fortunes/chinese")
# Python documentation sections written as prose (not API reference tables).
PYDOC_DIRS = ("tutorial", "howto", "faq", "extending", "installing", "using", "reference")
MIN_CHARS = {"en": 40, "zh": 12}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SPACES = re.compile(r"\s+")


class _Handbook(HTMLParser):
    """Paragraphs (div.para, outside program listings) grouped under their heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.docs: list[list[str]] = [[]]
        self.depth = 0  # nesting depth of div elements
        self.para_depth: int | None = None
        self.skip = 0  # inside pre / programlisting / screen
        self.buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag in ("h1", "h2", "h3", "h4") and self.docs[-1]:
            self.docs.append([])
        if tag == "pre" or (tag == "div" and ("programlisting" in cls or "screen" in cls)):
            self.skip += 1
        if tag == "div":
            self.depth += 1
            if cls == "para" and self.para_depth is None:
                self.para_depth = self.depth
                self.buf = []
        if tag == "p" and self.para_depth is None:
            self.para_depth = -1  # a <p> paragraph (Debian Reference)
            self.buf = []

    def handle_endtag(self, tag):
        if tag == "pre":
            self.skip -= 1
        if tag == "p" and self.para_depth == -1:
            self._close()
        if tag == "div":
            if self.para_depth == self.depth:
                self._close()
            self.depth -= 1

    def _close(self):
        text = SPACES.sub(" ", "".join(self.buf)).strip()
        if text:
            self.docs[-1].append(text)
        self.para_depth = None

    def handle_data(self, data):
        if self.para_depth is not None and not self.skip:
            self.buf.append(data)


def html_docs(pages: list[Path]) -> list[list[str]]:
    docs: list[list[str]] = []
    for page in pages:
        if page.name == "index.html":
            continue
        parser = _Handbook()
        parser.feed(page.read_text(encoding="utf-8"))
        docs.extend(d for d in parser.docs if d)
    return docs


def handbook(lang_dir: str) -> list[list[str]]:
    return html_docs(sorted((HANDBOOK / lang_dir).glob("*.html")))


def debian_reference(lang: str) -> list[list[str]]:
    return html_docs(sorted(DEBREF.glob(f"*.{lang}.html")))


RST_MARKUP = re.compile(r":[a-z:]+:`([^`<]*?)(?:\s*<[^>]*>)?`")


def _rst_inline(text: str) -> str:
    text = RST_MARKUP.sub(r"\1", text)
    text = re.sub(r"`([^`<]*?)(?:\s*<[^>]*>)?`_*", r"\1", text)
    text = text.replace("``", "").replace("**", "").replace("*", "")
    return SPACES.sub(" ", text).strip()


def pydoc() -> list[list[str]]:
    """Prose paragraphs of the Python 3.11 documentation, one document per section."""
    docs: list[list[str]] = []
    for folder in PYDOC_DIRS:
        for page in sorted((PYDOC / folder).rglob("*.rst.txt")):
            doc: list[str] = []
            lines = page.read_text(encoding="utf-8").splitlines()
            block: list[str] = []
            code = False
            for line in [*lines, ""]:
                if line.strip():
                    block.append(line)
                    continue
                if not block:
                    continue
                first = block[0]
                underline = len(block) >= 2 and re.fullmatch(r"([=\-~^*#\"'+])\1{2,}", block[-1])
                if underline or re.fullmatch(r"([=\-~^*#])\1{2,}", first):
                    if doc:
                        docs.append(doc)
                    doc = []
                elif first.startswith((" ", "\t")) and code:
                    pass  # body of a literal block
                elif first.startswith(("..", ">>>", "|", "+-", "=", "$")) or first[0] == " ":
                    pass  # directives, doctests, tables, indented material
                else:
                    text = _rst_inline(" ".join(b.strip() for b in block))
                    if text.endswith("::"):
                        text = text[:-1]
                    doc.append(text)
                code = block[-1].rstrip().endswith("::") or (
                    code and block[0].startswith((" ", "\t"))
                )
                block = []
            if doc:
                docs.append(doc)
    return docs


def fortunes_zh() -> list[list[str]]:
    """Each fortune of fortunes-zh's `chinese` file is a document; attributions dropped."""
    docs = []
    text = ANSI.sub("", FORTUNES_ZH.read_text(encoding="utf-8"))
    for entry in text.split("\n%\n"):
        paras: list[str] = []
        current: list[str] = []
        for line in entry.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("--") or any(c in stripped for c in "│┌└├─"):
                if current:
                    paras.append("".join(current))
                current = []
                continue
            current.append(stripped)
        if current:
            paras.append("".join(current))
        if paras:
            docs.append(paras)
    return docs


BULLET = re.compile(r"^(?:#\.|\*|-|\d+\.)\s+")
CJK = re.compile(r"[\u3400-\u9fff]")


def keep(doc: list[str], lang: str) -> list[str]:
    """Paragraphs long enough; for zh, only those mostly in Chinese (the handbook's
    translations leave some paragraphs in English)."""
    out = []
    for para in doc:
        para = BULLET.sub("", para)
        if len(para) < MIN_CHARS[lang]:
            continue
        if lang == "zh" and len(CJK.findall(para)) < 0.3 * len(para.replace(" ", "")):
            continue
        out.append(para)
    return out


def write(lang: str, sources: list[list[list[str]]]) -> None:
    docs = [d for src in sources for d in (keep(doc, lang) for doc in src) if d]
    text = "\n\n".join("\n".join(d) for d in docs) + "\n"
    path = HERE / f"{lang}.txt.xz"
    with lzma.open(path, "wt", encoding="utf-8", preset=9 | lzma.PRESET_EXTREME) as out:
        out.write(text)
    paras = sum(len(d) for d in docs)
    print(
        f"{path.name}: {len(docs)} documents, {paras} paragraphs, {len(text)} characters, "
        f"{len(text.encode())} bytes -> {path.stat().st_size} bytes xz",
        file=sys.stderr,
    )


def main() -> None:
    write("en", [handbook("en-US"), pydoc()])
    write(
        "zh",
        [handbook("zh-CN"), handbook("zh-TW"), debian_reference("zh-cn"), fortunes_zh()],
    )


if __name__ == "__main__":
    main()
