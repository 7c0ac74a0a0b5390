"""The audit: every id that entered a stage left it exactly once, kept or rejected."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .files import Ids, read_keyed

EXAMPLES = 5


class AuditError(RuntimeError):
    pass


@dataclass
class StageFiles:
    """Where one stage's records are: what went in, what was kept, what was rejected."""

    name: str
    inputs: Sequence[str]
    kept: Sequence[str]
    rejected: Sequence[str]
    input_key: str = "id"
    kept_parent: str = "id"  # column of a kept record naming its input record


@dataclass
class AuditResult:
    stage: str
    n_in: int
    kept: int
    rejected: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "in": self.n_in,
            "kept": self.kept,
            "rejected": self.rejected,
            "ok": self.ok,
            "problems": self.problems,
        }


def _examples(values: Iterable[Any]) -> str:
    shown = sorted(map(str, values))[:EXAMPLES]
    return ", ".join(shown)


def audit_ids(
    stage: str,
    inputs: pd.Series,
    parents: pd.Series,
    rejected: pd.Series,
    reasons: pd.Series | None = None,
) -> AuditResult:
    """Check that ``inputs`` == ``parents`` + ``rejected``, each id exactly once.

    ``reasons`` (aligned with ``rejected``): every rejected row must name one.
    Each problem names the stage, how many ids and a few of them.
    """
    return audit_keys(stage, Ids.of(inputs), Ids.of(parents), Ids.of(rejected), reasons)


def audit_keys(
    stage: str, inputs: Ids, parents: Ids, rejected: Ids, reasons: pd.Series | None = None
) -> AuditResult:
    """:func:`audit_ids` on ids as hashes (what rule summarize reads, a file at a time)."""
    result = AuditResult(stage, len(inputs), len(parents), len(rejected))
    problems = result.problems

    def named(ids: Ids, hashes: np.ndarray) -> str:
        return _examples(ids.named(hashes, EXAMPLES))

    for label, ids in (("input", inputs), ("kept", parents), ("rejected", rejected)):
        if ids.missing:
            problems.append(f"{stage}: {ids.missing} {label} rows have no id")
        repeated = ids.repeated()
        if len(repeated):
            problems.append(
                f"{stage}: {len(repeated)} {label} ids appear more than once, "
                f"e.g. {named(ids, repeated)}"
            )
    into, kept, rej = inputs.unique(), parents.unique(), rejected.unique()
    lost = np.setdiff1d(np.setdiff1d(into, kept, assume_unique=True), rej, assume_unique=True)
    if len(lost):
        problems.append(
            f"{stage}: {len(lost)} of {len(into)} ids that entered the stage were neither kept "
            f"nor rejected, e.g. {named(inputs, lost)}"
        )
    both = np.intersect1d(kept, rej, assume_unique=True)
    if len(both):
        problems.append(
            f"{stage}: {len(both)} ids were both kept and rejected, e.g. {named(parents, both)}"
        )
    unknown = np.setdiff1d(np.union1d(kept, rej), into, assume_unique=True)
    if len(unknown):
        problems.append(
            f"{stage}: {len(unknown)} kept or rejected ids never entered the stage, "
            f"e.g. {named(Ids.join([parents, rejected]), unknown)}"
        )
    if reasons is not None and len(reasons):
        text = reasons.astype(object).where(reasons.notna(), "").astype(str).str.strip()
        blank = (text == "").to_numpy()
        if blank.any():
            shown = rejected.hashes[blank & rejected.present]
            problems.append(
                f"{stage}: {int(blank.sum())} rejected rows have no reason, "
                f"e.g. {named(rejected, shown)}"
            )
    return result


def audit_stage(files: StageFiles) -> AuditResult:
    rejected, reasons = read_keyed(files.rejected, "id", ["reason"])
    return audit_keys(
        files.name,
        read_keyed(files.inputs, files.input_key)[0],
        read_keyed(files.kept, files.kept_parent)[0],
        rejected,
        reasons["reason"],
    )


def audit_seed_counts(seed_stats: Sequence[dict], records: int | None = None) -> AuditResult:
    """The seed stage reads rows that may have no id yet: check the counts.

    ``records``: rows in the ingested seed files, which must equal the kept count.
    """
    n_in = sum(s["in"] for s in seed_stats)
    kept = sum(s["kept"] for s in seed_stats)
    rejected = sum(s["rejected"] for s in seed_stats)
    result = AuditResult("seed", n_in, kept, rejected)
    for s in seed_stats:
        if s["in"] != s["kept"] + s["rejected"]:
            result.problems.append(
                f"seed {s.get('source')}: {s['in']} rows read "
                f"!= {s['kept']} kept + {s['rejected']} rejected"
            )
        result.problems.extend(_file_problems(s))
    if records is not None and records != kept:
        result.problems.append(
            f"seed: the stats say {kept} rows kept, the seed files hold {records}"
        )
    return result


def _file_problems(stats: Mapping[str, Any]) -> list[str]:
    """Per file of a seed (``files``): rows read = kept + rejected, the bytes its
    records cover = its size (crawl files), and the files add up to the seed."""
    files = stats.get("files") or {}
    seed = stats.get("source")
    problems = []
    for name, f in sorted(files.items()):
        if f["in"] != f["kept"] + f["rejected"]:
            problems.append(
                f"seed {seed}, file {name}: {f['in']} rows read "
                f"!= {f['kept']} kept + {f['rejected']} rejected"
            )
        if "file_bytes" in f and f.get("bytes_read") != f["file_bytes"]:
            problems.append(
                f"seed {seed}, file {name}: its records cover {f.get('bytes_read')} of "
                f"its {f['file_bytes']} bytes (records were skipped unread)"
            )
    for key in ("in", "kept", "rejected"):
        total = sum(f[key] for f in files.values())
        if files and total != stats[key]:
            problems.append(f"seed {seed}: its files add up to {key}={total}, not {stats[key]}")
    return problems


def check_stats_agree(result: AuditResult, stats: Mapping[str, Any]) -> None:
    """Add a problem when a stage's stats JSONs disagree with its files."""
    for key, found in (("in", result.n_in), ("kept", result.kept), ("rejected", result.rejected)):
        if key in stats and int(stats[key]) != found:
            result.problems.append(
                f"{result.stage}: the stats JSONs say {key}={stats[key]}, the files hold {found}"
            )


def check(summary: Mapping[str, Any]) -> None:
    """Raise if the audit found lost, doubled or invented records.

    The message lists every problem: the stage, how many ids, examples.
    """
    problems = [p for a in summary["audit"]["stages"] for p in a["problems"]]
    acc = summary["accounting"]
    if not acc["balanced"]:
        problems.append(
            f"{acc['seed_rows']} seed rows != {acc['final_documents']} documents "
            f"+ {acc['rejected_rows']} rejected rows"
        )
    if problems:
        raise AuditError(
            "audit failed: records are unaccounted for (every id entering a stage must leave "
            "it kept or in the stage's rejected file with a reason):\n  " + "\n  ".join(problems)
        )
