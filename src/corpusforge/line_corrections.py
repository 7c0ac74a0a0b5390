"""Line-wise corrections (RefinedWeb, Penedo et al. 2023, appendix G.2): counter and
interface lines removed; a document that loses too much is rejected.

One job per shard after the clean stage, on documents whose ``origin`` is in
``line_corrections.apply_to`` (web pages by default; the others pass untouched).
The clean stage removes a site's *boilerplate sentences* (cookie banners, copyright
footers, follow-us prompts: :mod:`corpusforge.clean.text`); this stage removes the
*widgets* RefinedWeb corrects, by kind (``line_corrections.kinds``):

- ``counter``: a line of interface words and numbers only ("12 likes",
  "Comments (3)", "阅读 1.2万", "点赞 35");
- ``interface``: a line of interface words only ("Share", "Sign in | Register",
  "Read more", "点赞 分享 收藏", "阅读全文", "返回顶部"), or a short line
  (``max_line_words``) that starts with a sign-in/share prompt or ends in "read
  more" / "continue reading";
- ``navigation``: a line of three or more short items between separators ("Home |
  News | Sports", "首页 > 新闻 > 国内"), or a run of ``nav_min_run`` or more very
  short lines (one or two words, or up to four CJK characters) without final
  punctuation, as menus give;
- off by default, the rest of RefinedWeb's list: ``numeric`` (digits and
  punctuation only), ``uppercase`` (mostly capitals), ``single_word``.

Lines are removed by :func:`corpusforge.clean.text.remove_lines` (the one
implementation every stage shares). A document whose removed characters exceed
``max_removed_share`` of its characters (RefinedWeb: 5%), or that is left empty,
is rejected ``line_corrections`` with what was removed; kept documents record
``corrected_lines`` and ``corrected_chars``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from .clean.text import remove_lines
from .stage import DocStage, Judged, Verdict, verdict_of

STAGE = "line_corrections"
REASON = "line_corrections"
KINDS = ("counter", "interface", "navigation", "numeric", "uppercase", "single_word")

# Words and phrases that make up interface lines (lower case), English and Chinese.
INTERFACE_TERMS = (
    # actions
    "share", "shares", "shared", "share this", "share on", "tweet", "retweet", "retweets",
    "pin it", "print", "email", "e-mail", "reply", "replies", "report", "like", "likes",
    "liked", "dislike", "follow", "followers", "following", "subscribe", "subscribers",
    "bookmark", "save", "favorite", "favorites", "favourite", "vote", "votes", "upvote",
    "upvotes", "points", "comment", "comments", "views", "view", "reads", "reactions",
    "sign in", "sign up", "sign out", "log in", "login", "log out", "logout", "register",
    "my account", "forgot password", "read more", "continue reading", "see more",
    "show more", "load more", "view more", "more", "back", "back to top", "top", "next",
    "previous", "prev", "next page", "previous page", "menu", "search", "close", "home",
    "skip to content", "skip to main content", "add to cart", "cart", "checkout",
    "facebook", "twitter", "linkedin", "pinterest", "reddit", "whatsapp", "x",
    # Chinese
    "点赞", "赞", "分享", "分享到", "转发", "收藏", "评论", "回复", "举报", "关注", "粉丝",
    "喜欢", "阅读", "浏览", "人气", "登录", "登陆", "注册", "退出", "阅读全文", "展开全文",
    "查看更多", "加载更多", "更多", "返回顶部", "回到顶部", "返回", "上一篇", "下一篇",
    "上一页", "下一页", "首页", "打印", "字号", "大", "中", "小", "微信", "微博",
    "朋友圈", "qq空间", "qq",
)  # fmt: skip
_TERMS = "|".join(re.escape(t) for t in sorted(INTERFACE_TERMS, key=lambda t: (-len(t), t)))
# A term does not run into the letters of a longer word ("more" in "moreover").
TERMS = re.compile(rf"(?<![a-z])(?:{_TERMS})(?![a-z])")
# Numbers as counters write them: "1,024", "1.2k", "3万", "35人", "12次".
NUMBERS = re.compile(r"\d[\d,.]*(?:\s*[kmw万千亿](?![a-z]))?\+?\s*[人次条]?")
NON_WORD = re.compile(r"[\W_]+")
START_PROMPT = re.compile(
    r"^(?:sign (?:in|up)|log ?in|subscribe|share|register)\b.{0,40}\b"
    r"(?:to|with|on|via|for|this|now)\b",
    re.IGNORECASE,
)
END_PROMPT = re.compile(
    r"(?:read more|continue reading|(?:see|view|show|load) more|阅读全文|展开全文|查看更多)"
    r"\W*$",
    re.IGNORECASE,
)
NAV_SPLIT = re.compile(r"\s*(?:\||·|•|»|›|>|/|::)\s*")
CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
TERMINAL = tuple(".!?;:。！？；：…\"'”」』")
DIGITS_ONLY = re.compile(r"[\d\W_]+")


def _interface_only(low: str) -> bool:
    """The (lower-cased) line is interface terms, numbers and punctuation only."""
    if not TERMS.search(low):
        return False
    return not NON_WORD.sub("", TERMS.sub(" ", NUMBERS.sub(" ", low)))


# A run of ASCII letters only leaves an interface-only line as a whole word of a term
# (TERMS matches begin and end where no letter touches) or as a counter's k/m/w
# (NUMBERS): a line with another run is no interface line.
ASCII_RUN = re.compile("[a-z]+")
TERM_WORDS = frozenset(w for term in INTERFACE_TERMS for w in ASCII_RUN.findall(term)) | {
    "k",
    "m",
    "w",
}


# A word character that neither NUMBERS (digits, k m w 万 千 亿 人 次 条) nor a term can
# take away, nor NON_WORD ("_"): a line with one is no interface line.
_REMOVABLE = "".join(sorted(set("".join(INTERFACE_TERMS)) | set("kmw万千亿人次条")))
STRAY = re.compile(f"[^\\W\\d_{re.escape(_REMOVABLE)}]")


def _interface_only_fast(low: str) -> bool:
    """:func:`_interface_only`, first ruling out lines with a character or a word
    no term has."""
    if STRAY.search(low):
        return False
    for run in ASCII_RUN.findall(low):
        if run not in TERM_WORDS:
            return False
    return _interface_only(low)


def _words(line: str) -> int:
    """Whitespace words, where a CJK character counts as half a word."""
    cjk = len(CJK.findall(line))
    return len(CJK.sub(" ", line).split()) + (cjk + 1) // 2


def _words_fast(line: str) -> int:
    """:func:`_words`: an ASCII line has no CJK character; else one pass (subn counts
    the characters it replaces)."""
    if line.isascii():
        return len(line.split())
    spaced, cjk = CJK.subn(" ", line)
    return len(spaced.split()) + (cjk + 1) // 2


def _very_short(line: str) -> bool:
    cjk = len(CJK.findall(line))
    if cjk:
        return cjk <= 4 and len(line) <= 8
    return len(line.split()) <= 2 and len(line) <= 24


def _very_short_fast(line: str) -> bool:
    """:func:`_very_short`; a line of more than 24 characters never is one."""
    return len(line) <= 24 and _very_short(line)


@dataclass(frozen=True)
class LineCorrections:
    """``line_corrections``: which kinds are removed and the document bound."""

    apply_to: frozenset[str]
    kinds: frozenset[str]
    max_removed_share: float
    max_line_words: int = 10
    nav_min_run: int = 4
    fast: bool = True  # the same kinds, cheap tests first (False: the reference order)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], fast: bool = True) -> LineCorrections:
        return cls(
            apply_to=frozenset(cfg["apply_to"]),
            kinds=frozenset(cfg["kinds"]),
            max_removed_share=float(cfg["max_removed_share"]),
            max_line_words=int(cfg["max_line_words"]),
            nav_min_run=int(cfg["nav_min_run"]),
            fast=fast,
        )

    def kind_of(self, line: str) -> str | None:
        """The kind of one (stripped, non-empty) line on its own, or None."""
        if self.fast:
            return self._kind_of_fast(line)
        on = self.kinds
        if "numeric" in on and DIGITS_ONLY.fullmatch(line):
            return "numeric"
        if _interface_only(line.lower()):
            if any(c.isdigit() for c in line):
                return "counter" if "counter" in on else None
            return "interface" if "interface" in on else None
        short = _words(line) <= self.max_line_words
        prompt = START_PROMPT.search(line) and not line.endswith(".")
        if "interface" in on and short and (prompt or END_PROMPT.search(line)):
            return "interface"
        if "navigation" in on and not line.endswith(TERMINAL):
            items = [item for item in NAV_SPLIT.split(line) if item]
            if len(items) >= 3 and all(_words(item) <= 3 for item in items):
                return "navigation"
        letters = [c for c in line if c.isalpha()]
        upper = sum(c.isupper() for c in letters)
        if "uppercase" in on and len(letters) >= 2 and upper / len(letters) > 0.5:
            return "uppercase"
        if "single_word" in on and not CJK.search(line) and len(line.split()) == 1:
            return "single_word"
        return None

    def _kind_of_fast(self, line: str) -> str | None:
        """kind_of's tests in its order, each computed only when its kind is on and
        the cheaper tests before it leave the answer open."""
        on = self.kinds
        if "numeric" in on and DIGITS_ONLY.fullmatch(line):
            return "numeric"
        if _interface_only_fast(line.lower()):
            if any(c.isdigit() for c in line):
                return "counter" if "counter" in on else None
            return "interface" if "interface" in on else None
        if "interface" in on and _words_fast(line) <= self.max_line_words:
            # START_PROMPT begins with ^: match is search at the only place it can be
            prompt = START_PROMPT.match(line) and not line.endswith(".")
            if prompt or END_PROMPT.search(line):
                return "interface"
        if "navigation" in on and not line.endswith(TERMINAL):
            items = [item for item in NAV_SPLIT.split(line) if item]
            if len(items) >= 3 and all(_words_fast(item) <= 3 for item in items):
                return "navigation"
        if "uppercase" in on:
            letters = [c for c in line if c.isalpha()]
            upper = sum(c.isupper() for c in letters)
            if len(letters) >= 2 and upper / len(letters) > 0.5:
                return "uppercase"
        if "single_word" in on and not CJK.search(line) and len(line.split()) == 1:
            return "single_word"
        return None

    def kinds_of(self, lines: Sequence[str]) -> list[str | None]:
        """The kind of every line of a document: each line on its own, then runs of
        very short lines (menus)."""
        stripped = [line.strip() for line in lines]
        kinds = [self.kind_of(s) if s else None for s in stripped]
        if "navigation" not in self.kinds:
            return kinds
        run: list[int] = []
        short = _very_short_fast if self.fast else _very_short
        for i, line in enumerate(stripped):
            if not line:
                continue  # blank lines do not break a menu
            # lines removed on their own ("Home", "Share") belong to the menu too
            if kinds[i] is not None or (short(line) and not line.endswith(TERMINAL)):
                run.append(i)
                continue
            self._mark_menu(kinds, run)
            run = []
        self._mark_menu(kinds, run)
        return kinds

    def _mark_menu(self, kinds: list[str | None], run: list[int]) -> None:
        if len(run) >= self.nav_min_run:
            for i in run:
                kinds[i] = kinds[i] or "navigation"

    def correct(self, text: str) -> tuple[str, Counter, int, int]:
        """(corrected text, lines removed by kind, characters removed, characters in)."""
        lines = text.split("\n")
        total = sum(len(line) for line in lines)
        new, removed, chars = remove_lines(text, lines, self.kinds_of(lines))
        return new, removed, chars, total


def settings(cfg: Mapping[str, Any], fast: bool = True) -> LineCorrections:
    """The ``line_corrections`` section (schema defaults filled in), checked
    (``fast=False``: every test of every line, the reference for tests and benchmarks)."""
    return LineCorrections.from_config(cfg, fast)


class LineCorrectionsStage(DocStage):
    """Rule ``line_corrections``: the section's kinds removed from the documents of
    its ``apply_to``."""

    name = STAGE
    section = "line_corrections"
    exempt: ClassVar[dict] = {"corrected_lines": 0, "corrected_chars": 0}
    not_applied_key = "not_corrected"

    def prepare(self) -> None:
        self.corrections = settings(self.cfg, self.fast)

    def judge(self, docs: pd.DataFrame) -> Verdict:
        bound = self.corrections.max_removed_share
        judged, n_lines, n_chars = [], [], []
        by_kind: Counter = Counter()
        changed = 0
        for raw in docs["text"].tolist():
            text = raw if isinstance(raw, str) else ""
            new, removed, chars, total = self.corrections.correct(text)
            share = chars / total if total else 1.0
            lines = sum(removed.values())
            if not new.strip() or share > bound:
                kinds = ", ".join(f"{k} {removed[k]}" for k in KINDS if removed[k])
                detail = (
                    f"removed {lines} lines, {chars} of {total} characters "
                    f"({share:.1%} > {bound:.1%}): {kinds or 'empty'}"
                )
                judged.append(Judged(raw, (REASON, detail)))  # rejected as it came
                n_lines.append(0)
                n_chars.append(0)
                continue
            by_kind.update(removed)
            changed += lines > 0
            judged.append(Judged(new))
            n_lines.append(lines)
            n_chars.append(chars)
        return verdict_of(
            judged,
            docs.index,
            columns={
                "corrected_lines": pd.Series(n_lines, index=docs.index, dtype="int64"),
                "corrected_chars": pd.Series(n_chars, index=docs.index, dtype="int64"),
            },
            counters={
                "documents_corrected": int(changed),
                "corrected_lines": int(sum(n_lines)),
                "corrected_chars": int(sum(n_chars)),
                "corrected_lines_by_kind": {k: int(by_kind[k]) for k in KINDS if by_kind[k]},
            },
        )
