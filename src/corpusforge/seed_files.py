"""Seeds of many files: a glob, a list of paths or URLs, or a paths file.

A seed's ``source`` may name many files instead of one:

* ``glob: "data/crawl/*.warc.wet.gz"``: local files, in sorted order;
* ``paths: [<url or path>, ...]``;
* ``paths_file: {path | url | hf: ...}``: a text file, optionally gzipped, one
  path per line, exactly Common Crawl's ``wet.paths.gz`` / ``warc.paths.gz``.
  Blank lines and lines starting with ``#`` are no files (they are counted).

``base_url`` is put before every listed entry that is not a URL (Common Crawl's
lists hold paths relative to https://data.commoncrawl.org/), ``limit_files``
keeps the first N files, and ``sha256s`` (by file name or listed entry) or
``checksums`` (a local file in ``sha256sum`` format) pin files' digests.

Every file has a ``name``, its base name (the listed path with ``/`` as ``__``
where two files share a base name), under which it is downloaded, ingested and
recorded (``source_file``). The workflow fetches and ingests each file in its own
job, then the seed's records are made shard by shard from the files' parts
(corpusforge.seed_shards): duplicates across files are rejected like duplicates
within one, and the seed's ``sample`` is drawn over all of them.
"""

from __future__ import annotations

import functools
import glob as globbing
import gzip
import json
import os
import posixpath
import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .seed import SeedError

LIST_KEYS = ("glob", "paths", "paths_file")


def is_file_list(source: Mapping[str, Any]) -> bool:
    """Whether a seed source names many files."""
    return any(key in source for key in LIST_KEYS)


def read_paths_file(path: str | Path) -> tuple[list[str], dict[str, int]]:
    """(entries, counts) of a paths file: one path per line, gzipped or not.

    ``counts``: ``lines``, ``entries``, ``blank`` and ``comments`` (``#`` lines).
    """
    path = Path(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    entries: list[str] = []
    counts = Counter(lines=0, entries=0, blank=0, comments=0)
    try:
        with opener(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                counts["lines"] += 1
                entry = line.strip()
                if not entry:
                    counts["blank"] += 1
                elif entry.startswith("#"):
                    counts["comments"] += 1
                else:
                    counts["entries"] += 1
                    entries.append(entry)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SeedError(f"cannot read the paths file {path}: {exc}") from exc
    return entries, dict(counts)


def _is_url(entry: str) -> bool:
    return urllib.parse.urlsplit(entry).scheme.lower() in ("http", "https", "file")


def locate(entry: str, base_url: str | None) -> str:
    """A listed entry as a URL (relative entries after ``base_url``) or a local path."""
    if _is_url(entry) or not base_url:
        return entry
    return base_url.rstrip("/") + "/" + entry.lstrip("/")


def file_names(locations: Sequence[str]) -> list[str]:
    """A distinct local name for every location: its base name, or its whole path
    (``/`` as ``__``) where base names collide."""
    tails = [posixpath.basename(urllib.parse.urlsplit(loc).path) or "file" for loc in locations]
    seen = Counter(tails)
    names = []
    for loc, tail in zip(locations, tails, strict=True):
        if seen[tail] > 1:
            tail = urllib.parse.urlsplit(loc).path.strip("/").replace("/", "__")
        names.append(tail)
    dupes = sorted(name for name, n in Counter(names).items() if n > 1)
    if dupes:
        raise SeedError(f"the files {', '.join(dupes[:5])} are listed more than once")
    return names


def read_checksums(path: str | Path) -> dict[str, str]:
    """``sha256sum`` output: ``<digest>  <file>`` lines -> {file: digest}."""
    sums: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise SeedError(f"{path}, line {number}: expected '<sha256>  <file>'")
        sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums


def globbed(pattern: str, key: str) -> list[str]:
    """The local files a glob matches, sorted; an error naming ``key`` when none."""
    found = sorted(p for p in globbing.glob(pattern, recursive=True) if Path(p).is_file())
    if not found:
        raise SeedError(f"{key}.glob: no file matches {pattern!r}")
    return found


def file_list(
    source: Mapping[str, Any], listed: Sequence[str], key: str = "source"
) -> list[dict[str, str]]:
    """The files of a seed, in order: ``{"name", "url" | "path"[, "sha256"]}`` each.

    ``listed``: the entries of the glob, of ``paths`` or of the paths file.
    """
    locations = [locate(entry, source.get("base_url")) for entry in listed]
    limit = source.get("limit_files")
    if limit is not None:
        listed, locations = list(listed)[:limit], locations[:limit]
    if not locations:
        raise SeedError(f"{key}: the list of files is empty")
    sums = dict(read_checksums(source["checksums"])) if source.get("checksums") else {}
    sums.update(source.get("sha256s") or {})
    files = []
    for entry, loc, name in zip(listed, locations, file_names(locations), strict=True):
        item = {"name": name, ("url" if _is_url(loc) else "path"): loc}
        digest = sums.get(name) or sums.get(entry) or sums.get(loc)
        if digest:
            item["sha256"] = digest.lower()
        if "url" in item and source.get("retries") is not None:
            item["retries"] = source["retries"]
        files.append(item)
    return files


# --------------------------------------------------------------------------- jobs


def list_job(
    source: Mapping[str, Any],
    paths_file: str | None,
    out_list: str,
    key: str,
    listed: Sequence[str] | None = None,
) -> list[dict[str, str]]:
    """The job of checkpoint seed_files: the seed's files, as JSON (``files``), with
    the counts of the paths file's lines (``paths_file``) when there is one.
    ``listed``: the glob's matches or the paths, as the workflow resolved them."""
    from .io import write_json

    counts = None
    if listed:
        listed = list(listed)
    else:
        listed, counts = entries(source, key, paths_file)
    files = file_list(source, listed, key)
    write_json({"files": files, "paths_file": counts}, out_list)
    return files


def entries(
    source: Mapping[str, Any], key: str, paths_file: str | None = None
) -> tuple[list[str], dict[str, int] | None]:
    """The entries a seed of many files lists (the glob's matches, its paths, or the
    lines of its paths file, read from ``paths_file``), and the paths file's line
    counts (None without one)."""
    if "glob" in source:
        return globbed(source["glob"], key), None
    if "paths" in source:
        return list(source["paths"]), None
    if not paths_file:
        raise SeedError(f"{key}.paths_file: no paths file to read")
    return read_paths_file(paths_file)


def listed_at_parse_time(source: Mapping[str, Any]) -> bool:
    """Whether a seed's files are known while the workflow is parsed: a glob, a list
    of paths, or a local paths file (a remote paths file is known once fetched)."""
    return is_file_list(source) and (
        "glob" in source or "paths" in source or "path" in source["paths_file"]
    )


def seed_file_index(
    source: Mapping[str, Any], key: str, list_file: str | Path | None = None
) -> tuple[tuple, dict[str, dict]]:
    """The files of a seed of many files, in order, and by name: listed while the
    workflow is parsed (``listed_at_parse_time``), else read from ``list_file``, the
    list checkpoint seed_files wrote. Each is worked out once (while unchanged): the
    workflow asks for it from every listed file's job while it plans, so a crawl of
    10,000 files would otherwise list or read it 10,000 times."""
    if listed_at_parse_time(source):
        return _parse_time_index(json.dumps(source, sort_keys=True), key)
    if list_file is None:
        raise SeedError(f"{key}: the list of files is known once checkpoint seed_files ran")
    return _indexed_list(*_stamp(list_file))


@functools.lru_cache(maxsize=64)
def _parse_time_index(source_json: str, key: str) -> tuple[tuple, dict[str, dict]]:
    source = json.loads(source_json)
    local = (source.get("paths_file") or {}).get("path")
    listed, _ = entries(source, key, local)
    return _by_name(file_list(source, listed, key))


def _stamp(path: str | Path) -> tuple[str, int, int]:
    info = os.stat(path)
    return str(path), info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=8)
def _indexed_list(path: str, _mtime_ns: int, _size: int) -> tuple[tuple, dict[str, dict]]:
    from .io import read_json

    return _by_name(read_json(path)["files"])


def _by_name(files: Sequence[dict[str, str]]) -> tuple[tuple, dict[str, dict]]:
    """A file list as a tuple, and its entries by name."""
    return tuple(files), {entry["name"]: entry for entry in files}
