"""Seed stage: read a seed file, map its columns, check every row, sample.

A seed is one file of raw extracts (web text that goes through prompt
construction), of ready prompts (rows shaped like cosmopedia-100k), or of
documents that skip generation and go straight to the cleaning stages (kind
``documents``: web mode). Besides Parquet, jsonl and CSV, a seed may be a Common
Crawl WARC (HTML responses, text extracted) or WET file (see corpusforge.web);
their rows keep ``url``, ``warc_date``, ``record_id`` and ``charset_detected``
(the charset found by detection when the declared one did not decode the page).
Every row keeps the name of the file it came from in ``source_file`` (a seed
may be many files: see corpusforge.seed_files). Every row
read leaves this stage either as a seed record or as a rejected row with a
reason; nothing is dropped silently. Blank lines of a jsonl or CSV file are no
rows: the stats count them (``blank_lines``).

Reasons: ``invalid_json``, ``invalid_utf8``, ``missing_text``, ``invalid_text``,
``empty_text``, ``duplicate_text``, ``duplicate_source_id`` and ``not_sampled``;
from crawl files also ``not_html``, ``no_text``, ``unreadable_record`` and
``truncated_record``.

Two rows with the same id of the user's (``columns.id``; the WARC-Record-ID of a
crawl file): the first kept row keeps it, later ones are rejected as
``duplicate_source_id``, so ``source_id`` names one row of the build.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa

from .cjk import han_count
from .records import RawRow, rejects_frame, stable_id, stage_stats, unit_hash
from .schema import definition_defaults

STAGE = "seed"
FORMATS = ("parquet", "jsonl", "csv", "warc", "wet")
CRAWL_FORMATS = ("warc", "wet")
BLANK_LINE = "blank_line"  # what read_rows counts for a blank line of a jsonl/CSV file
KINDS = ("extracts", "prompts", "documents")
# Optional columns a seed may map, beyond the required text column.
OPTIONAL_COLUMNS = (
    "id",
    "lang",
    "topic",
    "url",
    "format",
    "audience",
    "seed_data",
    "warc_date",
    "record_id",
)
# Crawl files map these fields of corpusforge.web's rows unless configured otherwise.
CRAWL_COLUMNS = {
    "url": "url",
    "warc_date": "warc_date",
    "record_id": "record_id",
    "id": "record_id",
}
# Provenance columns filled by the reader, not mapped by the user.
FILE_COLUMNS = ["source_file", "charset_detected"]
SEED_COLUMNS = (
    ["id", "seed_id", "source", "row", "source_id", "kind", "text"]
    + [name for name in OPTIONAL_COLUMNS if name != "id"]
    + FILE_COLUMNS
)
# The columns' types, those of a frame of records (its strings: Arrow large strings),
# for a seed's part written in chunks (rule ingest_seed_file).
SEED_SCHEMA = pa.schema(
    [(name, pa.int64() if name == "row" else pa.large_string()) for name in SEED_COLUMNS]
)

log = logging.getLogger("corpusforge.seed")


class SeedError(ValueError):
    """A seed that cannot be read at all (as opposed to single bad rows)."""


@dataclass
class SeedSpec:
    """The parts of one ``seeds`` config entry that shape the records."""

    name: str
    kind: str = "extracts"
    format: str | None = None
    compression: str = "auto"
    columns: dict[str, str] = field(default_factory=lambda: {"text": "text"})
    lang: str = "auto"
    csv_delimiter: str | None = None
    sample: dict[str, int] | None = None
    pieces: int | str = "auto"  # jobs that read a seed of one file side by side (pieces())

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any]) -> SeedSpec:
        """A ``seeds.<name>`` entry, with the schema's defaults where it leaves a key
        out (the field defaults above equal them: tests/test_seed.py checks)."""
        full = {**definition_defaults("seed"), **cfg}
        return cls(
            name=name,
            kind=full["kind"],
            format=full.get("format"),
            compression=full["compression"],
            columns={**definition_defaults("seed")["columns"], **(cfg.get("columns") or {})},
            lang=full["lang"],
            csv_delimiter=full.get("csv_delimiter"),
            sample=full.get("sample"),
            pieces=full["pieces"],
        )


# --------------------------------------------------------------------------- reading

PIECE_BYTES = 64 << 20  # pieces: auto: one piece per this many bytes of a file


def pieces(path: str | Path, spec: SeedSpec) -> int:
    """How many pieces a seed of one file is read in: ``spec.pieces``, or with
    ``auto`` one per ``PIECE_BYTES`` of a local plain jsonl or Parquet file (else 1:
    a file fetched during the build is not known while the workflow is planned)."""
    if spec.pieces != "auto":
        return int(spec.pieces)
    path = Path(path)
    if not path.is_file():
        return 1
    try:
        fmt, compression = detect_format(path, spec.format)
    except SeedError:
        return 1
    if spec.compression != "auto":
        compression = spec.compression
    if fmt not in ("jsonl", "parquet") or compression != "none":
        return 1
    return max(1, -(-path.stat().st_size // PIECE_BYTES))


def detect_format(path: Path, declared: str | None = None) -> tuple[str, str]:
    """(format, compression) from the config or else from the file name."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = "none"
    if suffixes and suffixes[-1] in (".gz", ".zst"):
        compression = {".gz": "gzip", ".zst": "zstd"}[suffixes.pop()]
    if declared:
        return declared, compression
    ext = suffixes[-1] if suffixes else ""
    by_ext = {
        ".parquet": "parquet",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".csv": "csv",
        ".tsv": "csv",
        ".warc": "warc",
        ".arc": "warc",
        ".wet": "wet",
    }
    if ext not in by_ext:
        raise SeedError(
            f"{path}: cannot tell the seed format from the file name; "
            f"set `format` to one of {', '.join(FORMATS)} in the seed's config"
        )
    return by_ext[ext], compression


def open_binary(path: Path, compression: str) -> IO[bytes]:
    """Open a possibly compressed file as a binary stream."""
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "zstd":
        import zstandard

        raw = open(path, "rb")  # noqa: SIM115 - closed together with the reader
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.BufferedReader(reader)
    return open(path, "rb")


def _lossy(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def iter_jsonl(
    stream: IO[bytes], skipped: Counter | None = None, first: int = 1
) -> Iterator[RawRow]:
    """The rows of a jsonl stream; ``first``: the number of its first line in the file."""
    for number, line in enumerate(stream, start=first):
        if not line.strip():
            if skipped is not None:  # a blank line carries no row; it is counted
                skipped[BLANK_LINE] += 1
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield RawRow(
                number,
                error="invalid_utf8",
                detail=f"byte {exc.start}: {exc.reason}",
                raw=_lossy(line),
            )
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RawRow(number, error="invalid_json", detail=exc.msg, raw=text.rstrip("\n"))
            continue
        if not isinstance(obj, dict):
            yield RawRow(
                number,
                error="invalid_json",
                detail=f"a JSON object was expected, got {type(obj).__name__}",
                raw=text.rstrip("\n"),
            )
            continue
        yield RawRow(number, fields=obj)


def iter_jsonl_piece(
    path: Path, piece: tuple[int, int], skipped: Counter | None = None
) -> Iterator[RawRow]:
    """The rows of the lines that begin in the byte range of ``piece`` (i, n) of a
    plain jsonl file, numbered as in the whole file (the lines before the range are
    counted, not parsed)."""
    index, pieces = piece
    size = path.stat().st_size
    start, end = index * size // pieces, (index + 1) * size // pieces
    with open(path, "rb") as stream:
        if start > 0:  # a line that began before the range belongs to the piece before
            stream.seek(start - 1)
            if stream.read(1) != b"\n":
                stream.readline()
            start = stream.tell()
        stream.seek(0)
        lines, todo = 0, start
        while todo:
            chunk = stream.read(min(todo, 1 << 24))
            lines += chunk.count(b"\n")
            todo -= len(chunk)
        yield from iter_jsonl(_until(stream, end), skipped, first=lines + 1)


def _until(stream: IO[bytes], end: int) -> Iterator[bytes]:
    """The lines of ``stream`` from where it is that begin before byte ``end``."""
    while stream.tell() < end:
        line = stream.readline()
        if not line:
            return
        yield line


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def iter_csv(stream: IO[bytes], delimiter: str, skipped: Counter | None = None) -> Iterator[RawRow]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    if any(_has_surrogates(h) for h in header):
        raise SeedError("the CSV header is not valid UTF-8")
    for number, values in enumerate(reader, start=1):
        if not values:
            if skipped is not None:  # a blank line carries no row; it is counted
                skipped[BLANK_LINE] += 1
            continue
        bad = [v for v in values if _has_surrogates(v)]
        if bad:
            joined = delimiter.join(values).encode("utf-8", "surrogateescape")
            yield RawRow(
                number, error="invalid_utf8", detail="undecodable bytes", raw=_lossy(joined)
            )
            continue
        if len(values) != len(header):
            yield RawRow(
                number,
                error="invalid_csv",
                detail=f"{len(values)} fields, header has {len(header)}",
                raw=delimiter.join(values),
            )
            continue
        yield RawRow(number, fields=dict(zip(header, values, strict=True)))


def iter_parquet(path: Path, piece: tuple[int, int] | None = None) -> Iterator[RawRow]:
    """The rows of a Parquet file, or of its ``piece`` (i, n): the i-th of n runs of
    whole row groups, rows numbered as in the file."""
    from .io import open_parquet

    handle = open_parquet(path)
    groups = list(range(handle.num_row_groups))
    if piece is not None:
        index, pieces = piece
        count = len(groups)
        groups = groups[index * count // pieces : (index + 1) * count // pieces]
    number = sum(handle.metadata.row_group(g).num_rows for g in range(groups[0])) if groups else 0
    if not groups:
        return
    for batch in handle.iter_batches(batch_size=8192, row_groups=groups):
        for record in batch.to_pylist():
            number += 1
            bad = [k for k, v in record.items() if isinstance(v, bytes)]
            for key in bad:
                try:
                    record[key] = record[key].decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield RawRow(
                        number,
                        error="invalid_utf8",
                        detail=f"column {key!r}, byte {exc.start}: {exc.reason}",
                        raw=_lossy(record[key]),
                    )
                    break
            else:
                yield RawRow(number, fields=record)


def read_rows(
    path: Path,
    spec: SeedSpec,
    skipped: Counter | None = None,
    piece: tuple[int, int] | None = None,
) -> Iterator[RawRow]:
    """Every row of a seed file, parsed or with the reason it could not be.

    ``skipped`` counts what is no row: crawl records that carry no document
    (warcinfo, request...) by type, blank lines of jsonl and CSV files as ``BLANK_LINE``.
    ``piece`` (i, n): only the i-th of n pieces of the file, so that n jobs read it
    side by side (``seeds.<name>.pieces``): a plain jsonl file by byte ranges (a line
    belongs to the piece its first byte is in), a Parquet file by row groups; rows
    keep their numbers in the whole file.
    """
    fmt, compression = detect_format(path, spec.format)
    if spec.compression != "auto":
        compression = spec.compression
    if piece is not None and piece[1] > 1:
        if fmt == "parquet":
            yield from iter_parquet(path, piece)
            return
        if fmt != "jsonl" or compression != "none":
            raise SeedError(
                f"{path}: seeds.{spec.name}.pieces: only plain (uncompressed) jsonl and "
                f"Parquet files are read in pieces, not {fmt} ({compression}); set it to 1"
            )
        yield from iter_jsonl_piece(path, piece, skipped)
        return
    if fmt in CRAWL_FORMATS:
        if compression not in ("none", "gzip"):
            raise SeedError(f"{path}: {fmt} files are read plain or gzipped, not {compression}")
        from .web import iter_warc, iter_wet

        reader = iter_warc if fmt == "warc" else iter_wet
        with open(path, "rb") as stream:  # the readers handle gzip members themselves
            yield from reader(stream, skipped=skipped)
        return
    if fmt == "parquet":
        yield from iter_parquet(path)
        return
    with open_binary(path, compression) as stream:
        if fmt == "jsonl":
            yield from iter_jsonl(stream, skipped)
        elif fmt == "csv":
            delimiter = spec.csv_delimiter or ("\t" if ".tsv" in path.suffixes else ",")
            yield from iter_csv(stream, delimiter, skipped)
        else:
            raise SeedError(f"{path}: unknown seed format {fmt!r}")


# --------------------------------------------------------------------------- rows -> records


def guess_lang(text: str) -> str:
    """A cheap script-based guess used only to pick the prompt template language.

    Real language identification is the fastText stage; this only tells Chinese
    script from the rest (more than 30% of the letters Chinese characters) so a
    seed without a language column still gets prompts. Text without a Chinese
    character is told apart without looking at each character in Python.
    """
    if text.isascii():
        return "en"
    han = han_count(text)
    if not han:
        return "en"
    letters = sum(1 for ch in text if ch.isalpha())
    return "zh" if han / letters > 0.3 else "en"


def clean_text(value: str) -> str:
    """Unicode NFC and trimmed; inner whitespace is left as written."""
    return unicodedata.normalize("NFC", value).strip()


def _optional_str(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)


class SeedRows:
    """The check and mapping of a seed's rows, streamed: :meth:`chunks` turns rows
    into records and rejected rows a chunk at a time and counts them, holding only
    the ids of the rows kept so far (to tell a repeated text or id), never their
    text.

    ``source_file``: the file read (its name is each record's ``source_file``);
    ``file_key``: the file's name in a seed of many files, which the ids of
    unreadable rows then include (row numbers repeat across files).
    """

    def __init__(self, spec: SeedSpec, source_file: str = "", file_key: str | None = None):
        self.spec = spec
        self.source_file = source_file
        self.where = f"{spec.name} ({file_key or source_file})" if source_file else spec.name
        self.file_name = Path(source_file).name if source_file else None
        self.row_key = (spec.name, file_key) if file_key else (spec.name,)
        self.seen: dict[str, int] = {}  # record id -> row
        self.seen_source_ids: dict[str, int] = {}  # the user's id -> row
        self.n_in = 0
        self.kept = 0
        self.rejected: Counter = Counter()  # rejected rows by reason
        self.text_col_seen = False

    def chunks(
        self, rows: Iterator[RawRow], batch_rows: int | None = None
    ) -> Iterator[tuple[pd.DataFrame, list[dict]]]:
        """(records, rejected rows) of ``rows``, a chunk of at most ``batch_rows``
        rows of both together at a time (None: one chunk); records as read (columns
        ``SEED_COLUMNS``), rejected rows by row, then reason. There is always a last
        chunk, maybe empty. Raises SeedError once the rows are read when the text
        column is absent from all of them: that is a config mistake, not a bad row."""
        kept: list[dict] = []
        rejected: list[dict] = []
        for raw in rows:
            self.n_in += 1
            record, reject = self._check(raw)
            if record is not None:
                kept.append(record)
            else:
                rejected.append(reject)
                self.rejected[reject["reason"]] += 1
            if batch_rows is not None and len(kept) + len(rejected) >= batch_rows:
                yield self._chunk(kept, rejected)
                kept, rejected = [], []
        text_col = self.spec.columns["text"]
        if self.n_in and not self.text_col_seen and set(self.rejected) == {"missing_text"}:
            raise SeedError(
                f"seed {self.where}: no row has the text column {text_col!r}; "
                f"set `seeds.{self.spec.name}.columns.text` to the right column name"
            )
        yield self._chunk(kept, rejected)

    def _chunk(self, kept: list[dict], rejected: list[dict]) -> tuple[pd.DataFrame, list[dict]]:
        self.kept += len(kept)
        records = pd.DataFrame(kept, columns=SEED_COLUMNS)
        records["row"] = records["row"].astype("int64")
        return records, sorted(rejected, key=lambda r: (r["row"], r["reason"]))

    def reject(
        self, row: int, reason: str, detail: str, text: str | None, rid: str | None = None
    ) -> dict:
        """A rejected row of this seed (file)."""
        return {
            "id": rid or stable_id(*self.row_key, "row", row),
            "seed_id": rid,
            "stage": STAGE,
            "reason": reason,
            "detail": detail,
            "source": self.where,
            "row": row,
            "text": text,
        }

    def _check(self, raw: RawRow) -> tuple[dict | None, dict | None]:
        """(the record of ``raw``, None), or (None, why it is rejected)."""
        spec, text_col = self.spec, self.spec.columns["text"]
        if raw.error:
            return None, self.reject(raw.row, raw.error, raw.detail, raw.raw)
        fields = raw.fields or {}
        if text_col not in fields:
            return None, self.reject(raw.row, "missing_text", f"no {text_col!r} field", None)
        self.text_col_seen = True
        value = fields[text_col]
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return None, self.reject(raw.row, "missing_text", f"{text_col!r} is null", None)
        if not isinstance(value, str):
            detail = f"{text_col!r} is a {type(value).__name__}"
            return None, self.reject(raw.row, "invalid_text", detail, str(value))
        text = clean_text(value)
        if not text:
            detail = f"{text_col!r} is empty or whitespace"
            return None, self.reject(raw.row, "empty_text", detail, value)
        rid = stable_id(spec.name, text)
        if rid in self.seen:
            detail = f"same text as row {self.seen[rid]}"
            return None, self.reject(raw.row, "duplicate_text", detail, text)
        mapped = {
            key: _optional_str(fields.get(spec.columns[key])) if spec.columns.get(key) else None
            for key in OPTIONAL_COLUMNS
        }
        if mapped["id"] and mapped["id"] in self.seen_source_ids:
            first = self.seen_source_ids[mapped["id"]]
            detail = f"same {spec.columns['id']!r} as row {first}"
            return None, self.reject(raw.row, "duplicate_source_id", detail, text)
        self.seen[rid] = raw.row
        if mapped["id"]:
            self.seen_source_ids[mapped["id"]] = raw.row
        lang = mapped["lang"] or (spec.lang if spec.lang != "auto" else None)
        record = {
            **mapped,
            "id": rid,
            "seed_id": rid,
            "source": spec.name,
            "row": raw.row,
            "source_id": mapped["id"] or str(raw.row),
            "kind": spec.kind,
            "text": text,
            "lang": (lang or guess_lang(text)).strip().lower(),
            "source_file": self.file_name,
            "charset_detected": _optional_str(fields.get("charset_detected")),
        }
        return record, None

    def stats(self) -> dict:
        """The rows read, kept and rejected by reason so far."""
        return stage_stats(
            STAGE, self.n_in, self.kept, self.rejected, source=self.spec.name, file=self.source_file
        )


def ingest(
    rows: Iterator[RawRow], spec: SeedSpec, source_file: str = "", file_key: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Check and map every row, then sample; returns (records sorted by id, rejected
    rows by row then reason, stats): one pass over a whole seed (file) in memory.
    Arguments and errors as :class:`SeedRows`'s."""
    checker = SeedRows(spec, source_file, file_key)
    return _whole(checker, checker.chunks(rows))


def _whole(
    checker: SeedRows, chunks: Iterator[tuple[pd.DataFrame, list[dict]]]
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The one chunk of every row ``checker`` checked, with the seed's sample drawn."""
    spec = checker.spec
    ((records, rejected),) = chunks
    records, sampled_out = apply_sample(records, spec)
    if len(sampled_out):
        note = f"not in the sample of {spec.sample['n']} rows"
        for rec in sampled_out.to_dict("records"):
            rejected.append(checker.reject(int(rec["row"]), "not_sampled", note, None, rec["id"]))
        rejected.sort(key=lambda r: (r["row"], r["reason"]))
        checker.kept -= len(sampled_out)
        checker.rejected["not_sampled"] += len(sampled_out)
    records = records.sort_values("id", kind="stable").reset_index(drop=True)
    stats = checker.stats()
    log.info(
        "seed %s: %d rows read, %d kept, %d rejected",
        spec.name,
        stats["in"],
        stats["kept"],
        stats["rejected"],
    )
    return records, rejects_frame(rejected), stats


def sample_key(spec: SeedSpec, rid: str) -> float:
    """A record's rank in its seed's sample (rows rank by this, then by id)."""
    return unit_hash("sample", spec.sample.get("seed", 0), rid)


def apply_sample(records: pd.DataFrame, spec: SeedSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep ``sample.n`` rows chosen by a seeded hash of their ids.

    The choice depends only on the ids and the seed, never on file order, so the
    same rows are picked on every run and adding rows to a seed moves few picks.
    """
    if not spec.sample or spec.sample.get("n") is None or len(records) <= spec.sample["n"]:
        return records, records.iloc[0:0]
    order = records["id"].map(lambda rid: sample_key(spec, rid))
    ranked = records.assign(_order=order).sort_values(["_order", "id"], kind="stable")
    n = spec.sample["n"]
    keep = ranked.iloc[:n].drop(columns="_order")
    drop = ranked.iloc[n:].drop(columns="_order")
    return keep, drop


class SeedFile:
    """One seed file (or its ``piece`` (i, n): see ``read_rows``) read and checked
    as a stream (:meth:`chunks`); errors name the file and the config key.

    :meth:`stats` has the file's counts under ``files`` (by ``file_key``, else the
    file's name); for crawl files with the bytes read and the file's size.
    """

    def __init__(
        self,
        path: str | Path,
        spec: SeedSpec,
        file_key: str | None = None,
        piece: tuple[int, int] | None = None,
    ):
        self.path = Path(path)
        if not self.path.exists():
            raise SeedError(
                f"seed {spec.name}: file {self.path} does not exist (check `seeds.{spec.name}`)"
            )
        self.format, _ = detect_format(self.path, spec.format)
        if self.format in CRAWL_FORMATS:  # a crawl file's rows are named by their record ids
            spec = replace(spec, columns={**CRAWL_COLUMNS, **spec.columns})
        self.spec = spec
        self.file_key = file_key
        self.piece = piece
        self.skipped: Counter = Counter()
        self.rows = SeedRows(spec, str(self.path), file_key)

    def chunks(self, batch_rows: int | None = None) -> Iterator[tuple[pd.DataFrame, list[dict]]]:
        """The file's (records, rejected rows), as :meth:`SeedRows.chunks` gives them."""
        path, spec = self.path, self.spec
        try:
            rows = read_rows(path, spec, self.skipped, self.piece)
            yield from self.rows.chunks(rows, batch_rows)
        except SeedError as exc:
            if str(path) in str(exc):
                raise
            raise SeedError(f"{path}: {exc}") from exc
        except (OSError, EOFError, ValueError) as exc:
            raise SeedError(f"seed {spec.name}: cannot read {path}: {exc}") from exc

    def stats(self) -> dict:
        """The stats of the rows read so far (all of them once :meth:`chunks` is done)."""
        return self.with_file_counts(self.rows.stats())

    def with_file_counts(self, stats: dict) -> dict:
        """``stats`` of the file's rows with the counts of what was no row (blank
        lines; a crawl file's records without a document, its bytes) and the file's
        counts under ``files``."""
        skipped = Counter(self.skipped)
        stats["blank_lines"] = skipped.pop(BLANK_LINE, 0)
        counts = {key: stats[key] for key in ("in", "kept", "rejected", "rejected_by_reason")}
        if self.format in CRAWL_FORMATS:
            from .web import BYTES_READ, FILE_BYTES

            counts["bytes_read"] = skipped.pop(BYTES_READ, 0)
            counts["file_bytes"] = skipped.pop(FILE_BYTES, 0)
            stats["format"] = self.format
            stats["records_without_document"] = {k: skipped[k] for k in sorted(skipped)}
            counts["records_without_document"] = stats["records_without_document"]
        stats["files"] = {self.file_key or self.path.name: counts}
        return stats


def ingest_file(
    path: str | Path,
    spec: SeedSpec,
    file_key: str | None = None,
    piece: tuple[int, int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read and ingest one seed file (or its ``piece``), sampled, in one pass in
    memory (:func:`ingest`); stats and errors as :class:`SeedFile`'s."""
    seed_file = SeedFile(path, spec, file_key, piece)
    records, rejects, stats = _whole(seed_file.rows, seed_file.chunks())
    return records, rejects, seed_file.with_file_counts(stats)
