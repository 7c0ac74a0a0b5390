"""Cheap, exact pre-checks before expensive regular expressions.

:func:`required` reads a compiled pattern's syntax tree (Python's own parser) and
returns a set of strings such that *every* match of the pattern contains at least
one of them. A text (or line) that contains none of them cannot match, so the
expensive search can be skipped with no change to any result (:class:`Keywords`
makes that check fast). It is derived from the pattern itself, not written by
hand, so a pattern edited later (or a user's ``clean.boilerplate.extra_patterns``)
still gets a correct pre-check, or none.

How the set is found, for a sequence of pattern elements: every element that must
match (a literal run, a character class without negation or categories, a group,
a branch whose every alternative has a set, a repeat of at least one) gives a set;
any one of them is a valid answer, and ``cost`` picks the most selective. Anything
else (``\\w``, ``.``, lookarounds, optional parts) gives nothing and is skipped.
Under ``re.IGNORECASE`` only literal runs are used, and the check folds case as
``re`` does (:class:`Keywords`), so a character matches the pre-check exactly when
it matches the literal in the pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from re import _constants as C  # the same parser re.compile uses
from re import _parser

Strings = frozenset[str]
MAX_CLASS = 4096  # larger classes (\u4e00-\u9fff...) select nothing worth the check


def longest_first(found: Strings) -> tuple[int, int]:
    """Default ``cost``: the set whose shortest string is longest (a non-ASCII
    character counts twice: rarer), then the smallest."""
    return (-min(len(s) + sum(not ch.isascii() for ch in s) for s in found), len(found))


def required(
    pattern: re.Pattern, cost: Callable[[Strings], tuple] = longest_first
) -> Strings | None:
    """Strings one of which every match of ``pattern`` contains, or None when the
    pattern has no such set (then no pre-check is possible)."""
    if not isinstance(pattern.pattern, str):
        return None
    tree = _parser.parse(pattern.pattern, pattern.flags)
    return _sequence(list(tree), bool(pattern.flags & re.IGNORECASE), cost)


def any_of(strings: Iterable[str], flags: int = 0) -> re.Pattern:
    """One compiled alternation of ``strings`` (longest first), with ``flags``."""
    ordered = sorted(set(strings), key=lambda s: (-len(s), s))
    return re.compile("|".join(map(re.escape, ordered)), flags)


class Keywords:
    """Whether a text contains one of ``strings`` (case-insensitive as ``re`` is).

    ``re.IGNORECASE`` alternations are slow; when neither the strings nor the text
    have a non-ASCII cased letter (true of ASCII and of Chinese text), comparing
    ASCII-lower-cased text to lower-cased strings gives the same answer. Every
    character ``re`` folds to an ASCII letter (K KELVIN SIGN, LONG S, DOTLESS I...) is
    a non-ASCII cased letter, so a text with one takes the ``re`` path.
    """

    def __init__(self, strings: Iterable[str]) -> None:
        strings = fewest(strings)
        if any("\n" in s for s in strings):
            raise ValueError("Keywords: a string with a newline")
        self.folded = any_of(strings, re.IGNORECASE)
        simple = all(ch.isascii() or not _cased(ch) for s in strings for ch in s)
        self.lower = any_of([s.lower() for s in strings]) if simple else None

    def _searchable(self, text: str) -> tuple[str, re.Pattern]:
        if self.lower is not None:
            if text.isascii():
                return text.lower(), self.lower
            data = text.encode("utf-8", "surrogatepass")
            low = data.lower().decode("utf-8", "surrogatepass")  # ASCII letters only
            up = data.upper().decode("utf-8", "surrogatepass")
            if low == text.lower() and up == text.upper():
                return low, self.lower
        return text, self.folded

    def search(self, text: str) -> bool:
        searchable, pattern = self._searchable(text)
        return pattern.search(searchable) is not None

    def lines_with(self, text: str) -> set[int]:
        """The numbers (0-based) of the lines of ``text.split("\\n")`` with a string.

        No string has a newline, so no match runs over two lines and every line
        with a string holds a match (or is overlapped by one starting in it)."""
        searchable, pattern = self._searchable(text)
        found: set[int] = set()
        line = done = 0  # searchable[:done] has ``line`` newlines
        for match in pattern.finditer(searchable):
            line += searchable.count("\n", done, match.start())
            done = match.start()
            found.add(line)
        return found


def fewest(strings: Iterable[str]) -> list[str]:
    """Strings as few and short as can be with the same use: a text with one of
    ``strings`` has one of these. Blanks at either end go (what is left is in the
    text too), and a string holding another goes (the other is in the text too)."""
    stripped = {s.strip() or s for s in strings}
    return sorted(s for s in stripped if not any(t != s and t in s for t in stripped))


def _cased(ch: str) -> bool:
    return ch.lower() != ch or ch.upper() != ch


def _sequence(items: list, ignore_case: bool, cost) -> Strings | None:
    candidates: list[Strings] = []
    run = ""
    for op, av in items:
        if op is C.LITERAL:
            run += chr(av)
            continue
        if run:
            candidates.append(frozenset([run]))
            run = ""
        found = _element(op, av, ignore_case, cost)
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset([run]))
    return min(candidates, key=cost) if candidates else None


def _element(op, av, ignore_case: bool, cost) -> Strings | None:
    if op is C.IN and not ignore_case:
        chars: set[str] = set()
        for kind, value in av:
            if kind is C.LITERAL:
                chars.add(chr(value))
            elif kind is C.RANGE and value[1] - value[0] < MAX_CLASS:
                chars.update(map(chr, range(value[0], value[1] + 1)))
            else:  # NEGATE, CATEGORY (\s, \d), huge ranges
                return None
        return frozenset(chars) if len(chars) <= MAX_CLASS else None
    if op is C.SUBPATTERN:
        _group, add_flags, del_flags, inner = av
        if add_flags or del_flags:  # (?i:...) and the like: not worth the care
            return None
        return _sequence(list(inner), ignore_case, cost)
    if op is C.BRANCH:
        union: set[str] = set()
        for alternative in av[1]:
            found = _sequence(list(alternative), ignore_case, cost)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        low, _high, inner = av
        return _sequence(list(inner), ignore_case, cost) if low >= 1 else None
    return None
