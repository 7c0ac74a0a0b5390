"""URL filter (RefinedWeb, Penedo et al. 2023, appendix G.1): domain lists and URL words.

One job per shard, before cleaning and language ID, in modes web and both (or by
config: ``url_filter.enabled``). Documents without a URL (generated ones, plain
text seeds) pass untouched and are counted (``no_url``). For a document with one:

1. its host (lower-cased, a trailing dot and the port dropped) is looked up in the
   allowlists, the host itself and every parent domain (``a.b.example.com`` ->
   ``b.example.com`` -> ``example.com`` -> ``com``): an allowlisted document is kept
   without further checks (``allowlisted``);
2. the same lookup in the blocklists: rejected ``url_blocked``, the detail naming
   the list and the entry (``blocklist demo: casino-bonus.example``);
3. RefinedWeb's URL word scoring: the URL, lower-cased, is split into its runs of
   letters and digits; one word of a ``hard_words`` list rejects, more than
   ``max_soft_words`` distinct words of the ``soft_words`` lists reject. The detail
   names the list(s) and the words.

Lists (``url_filter.lists``) are text files, one entry a line, ``#`` comments and
blank lines ignored, each with a ``kind``: ``block`` and ``allow`` (domains; a URL
or ``*.`` prefix is reduced to its host) or ``hard_words`` and ``soft_words``.
Each comes from a local path, a URL (+ sha256) or a Hugging Face file, fetched by
rule ``download_url_list``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from .stage import DocStage, Verdict

STAGE = "url_filter"
REASON = "url_blocked"
KINDS = ("block", "allow", "hard_words", "soft_words")
URL_WORD = re.compile(r"[a-z0-9]+")


class UrlFilterError(ValueError):
    """A ``url_filter`` list or setting is wrong."""


def host_of(url: str) -> str | None:
    """The host of a URL (or of a bare domain), lower-cased, without port or trailing dot."""
    text = url.strip()
    if not text:
        return None
    if "://" not in text:
        text = "http://" + text.removeprefix("*.").lstrip(".")
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def parents(host: str) -> list[str]:
    """The host and every parent domain, longest first."""
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


def read_list(path: str | Path, kind: str, key: str) -> frozenset[str]:
    """The entries of one list file; ``key`` names the list in errors."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UrlFilterError(f"{key}: cannot read {path}: {exc}") from exc
    entries = set()
    for number, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if kind in ("block", "allow"):
            host = host_of(entry)
            if not host:
                raise UrlFilterError(f"{key}: {path} line {number}: not a domain: {entry!r}")
            entries.add(host)
        elif URL_WORD.fullmatch(entry):
            entries.add(entry)
        else:
            raise UrlFilterError(
                f"{key}: {path} line {number}: a URL word is letters and digits: {entry!r}"
            )
    if not entries:
        raise UrlFilterError(f"{key}: {path} lists nothing")
    return frozenset(entries)


@dataclass(frozen=True)
class UrlFilter:
    """The lists of ``url_filter``: list name -> entries, by kind."""

    block: Mapping[str, frozenset[str]]
    allow: Mapping[str, frozenset[str]]
    hard_words: Mapping[str, frozenset[str]]
    soft_words: Mapping[str, frozenset[str]]
    max_soft_words: int

    @classmethod
    def from_config(
        cls, cfg: Mapping[str, Any], files: Mapping[str, str] | None = None
    ) -> UrlFilter:
        """From a ``url_filter`` section with the schema's defaults filled in.

        ``files``: list name -> local file (the rule's inputs, downloads included);
        without it, a list's ``source.path`` is read.
        """
        by_kind: dict[str, dict[str, frozenset[str]]] = {kind: {} for kind in KINDS}
        for name in sorted(cfg["lists"]):
            item = cfg["lists"][name]
            key = f"url_filter.lists.{name}"
            path = (files or {}).get(name) or item["source"].get("path")
            if not path:
                raise UrlFilterError(
                    f"{key}.source: a url or hf list is fetched by the workflow (rule "
                    "download_url_list); outside it, pass the downloaded file"
                )
            by_kind[item["kind"]][name] = read_list(path, item["kind"], key)
        return cls(**by_kind, max_soft_words=int(cfg["max_soft_words"]))

    @staticmethod
    def _domain_hit(host: str, lists: Mapping[str, frozenset[str]]) -> tuple[str, str] | None:
        for domain in parents(host):
            for name, entries in lists.items():
                if domain in entries:
                    return name, domain
        return None

    def verdict(self, url: str) -> tuple[str, str | None]:
        """(outcome, detail): ``allowlisted``, ``passed`` or ``url_blocked`` with its detail."""
        host = host_of(url)
        if host:
            if self._domain_hit(host, self.allow):
                return "allowlisted", None
            hit = self._domain_hit(host, self.block)
            if hit:
                return REASON, f"blocklist {hit[0]}: {hit[1]}"
        words = set(URL_WORD.findall(url.lower()))
        for name, entries in self.hard_words.items():
            found = sorted(words & entries)
            if found:
                return REASON, f"hard_words {name}: {', '.join(found)}"
        soft = {name: sorted(words & entries) for name, entries in self.soft_words.items()}
        found = sorted({w for ws in soft.values() for w in ws})
        if len(found) > self.max_soft_words:
            lists = ", ".join(name for name, ws in soft.items() if ws)
            return REASON, (
                f"soft_words {lists}: {len(found)} > {self.max_soft_words} ({', '.join(found)})"
            )
        return "passed", None


def settings(cfg: Mapping[str, Any], files: Mapping[str, str] | None = None) -> UrlFilter:
    """The ``url_filter`` section (schema defaults filled in) with its list ``files``
    (name -> local path), checked."""
    return UrlFilter.from_config(cfg, files)


class UrlFilterStage(DocStage):
    """Rule ``url_filter``: the lists of the section (``files``: ``list_<name>`` ->
    local file, the rule's inputs) over every document with a URL."""

    name = STAGE
    section = "url_filter"

    def prepare(self) -> None:
        lists = {name.removeprefix("list_"): path for name, path in self.files.items()}
        self.url_filter = settings(self.cfg, lists)

    def described(self) -> dict[str, Any]:
        found = self.url_filter
        return {
            "lists": {kind: sorted(getattr(found, kind)) for kind in KINDS if getattr(found, kind)}
        }

    def judge(self, docs: pd.DataFrame) -> Verdict:
        urls = docs["url"].tolist() if "url" in docs.columns else [None] * len(docs)
        outcomes: Counter = Counter()
        by_list: Counter = Counter()
        keep, details = [], []
        for url in urls:
            if not isinstance(url, str) or not url.strip():
                outcomes["no_url"] += 1
                keep.append(True)
                details.append(None)
                continue
            outcome, detail = self.url_filter.verdict(url)
            outcomes[outcome] += 1
            keep.append(outcome != REASON)
            details.append(detail)
            if detail is not None:
                by_list[detail.split(":", 1)[0]] += 1
        return Verdict(
            keep=pd.Series(keep, index=docs.index, dtype=bool),
            reason=REASON,
            detail=pd.Series(details, index=docs.index, dtype=object),
            counters={
                "no_url": int(outcomes["no_url"]),
                "allowlisted": int(outcomes["allowlisted"]),
                "passed": int(outcomes["passed"]),
                "blocked_by_list": {k: int(by_list[k]) for k in sorted(by_list)},
            },
        )
