"""The document-stage protocol: a per-shard document stage declared once, in one shape.

A stage is a subclass of :class:`DocStage` that says what it is (``name``, its config
``section``), what it adds to the documents it keeps (``exempt``: the values of its
new columns on documents it does not apply to) and how it judges a batch of
documents (:meth:`DocStage.judge`, returning a :class:`Verdict`). The base owns
everything else, once for every stage:

- ``apply_to``: documents whose ``origin`` is not in the section's ``apply_to`` pass
  untouched (counted as ``not_applied``, or the stage's ``not_applied_key``; the
  stats list ``apply_to``); a section without ``apply_to`` applies to every document;
- rejection bookkeeping: every document judged not to keep becomes a rejected row
  with the stage, its reason and detail (``records.reject_records``) and its text as
  the stage left it (the verdict's ``text``: clean's masked text), so the audit finds it;
- stats: ``in``, ``kept``, ``rejected``, ``rejected_by_reason``, the verdict's
  counters, the settings the stage describes (:meth:`DocStage.described`) and its
  counts over every kept document (:meth:`DocStage.kept_counters`)
  (``records.stage_outcome``), merged over batches and shards;
- job I/O: rule ``<name>`` runs ``scripts/doc_stage.py``, which builds the stage named
  in the rule's ``params.stage`` from ``params.settings`` and streams the shard
  through it in batches of ``params.batch_rows`` (``runtime.doc_stage_job``).

Adding a stage (docs/adding-a-stage.md): one module with the class, one rules file
``rules/<name>.smk``, one line in ``STAGES`` (rules/common.smk).
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from .records import origins, reject_records, stage_outcome


@dataclass
class Verdict:
    """What a stage says of the documents it was given (one row each, same index):
    ``keep`` (bool per document), the ``reason`` and ``detail`` of those not kept (one
    for all, or one per document: Series on the same index), ``columns`` to set on the
    documents (new columns, or changed ``text``; Series on the same index, or one
    value for all), and the stage's own ``counters`` for its stats."""

    keep: pd.Series
    reason: str | pd.Series = ""
    detail: str | pd.Series = ""
    columns: Mapping[str, Any] = field(default_factory=dict)
    counters: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Judged:
    """One document's judgement, for stages that judge document by document: its text
    as the stage leaves it, the ``(reason, detail)`` that rejects it (None: kept) and
    what the stage counted in it (``counts``: lines removed by cause, ...)."""

    text: str
    verdict: tuple[str, str] | None = None
    counts: Counter = field(default_factory=Counter)

    def reject(self, reason: str, detail: str) -> Judged:
        self.verdict = (reason, detail)
        return self


def verdict_of(
    judged: Iterable[Judged],
    index: pd.Index,
    columns: Mapping[str, Sequence[Any] | pd.Series] | None = None,
    counters: Mapping[str, Any] | None = None,
) -> Verdict:
    """The :class:`Verdict` of a batch judged document by document (``judged``: one
    per document, in the order of ``index``): keep, reason, detail and text from each
    judgement (the text as pandas infers it, as the stage read it); ``columns``: the
    stage's other columns, one value per document (a list: object values)."""
    judged = list(judged)
    verdicts = [j.verdict for j in judged]

    def column(values: Sequence[Any] | pd.Series) -> pd.Series:
        if isinstance(values, pd.Series):
            return values
        return pd.Series(list(values), index=index, dtype=object)

    return Verdict(
        keep=pd.Series([v is None for v in verdicts], index=index, dtype=bool),
        reason=column([v[0] if v else None for v in verdicts]),
        detail=column([v[1] if v else None for v in verdicts]),
        columns={
            "text": pd.Series([j.text for j in judged], index=index),
            **{name: column(values) for name, values in (columns or {}).items()},
        },
        counters=dict(counters or {}),
    )


class DocStage:
    """Base of every protocol stage; subclasses set ``name`` and implement ``judge``."""

    name: ClassVar[str]
    # the config section (its defaults come from the schema); None: no settings
    section: ClassVar[str | None] = None
    # the values of the stage's new columns on documents it does not apply to
    exempt: ClassVar[Mapping[str, Any]] = {}
    # the stats key that counts documents outside apply_to
    not_applied_key: ClassVar[str] = "not_applied"
    # input columns the stage sets anew on the documents it judges: dropped before its
    # columns are set, so they come last (langid's lang and lang_score)
    renewed: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        cfg: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        fast: bool = True,
    ):
        self.cfg = self.settings(dict(cfg or {}))
        self.files = dict(files or {})
        # False: the stage's reference measures, without pre-checks (tests, benchmarks)
        self.fast = fast
        self.prepare()

    def prepare(self) -> None:
        """Build what the stage needs once per job (lists, an index, a model) from
        ``self.cfg`` and ``self.files``."""

    @classmethod
    def settings(cls, cfg: dict[str, Any]) -> dict[str, Any]:
        """The section as the rule passes it (schema defaults filled in); override to
        add checks that involve several settings."""
        return cfg

    @property
    def apply_to(self) -> frozenset[str] | None:
        value = self.cfg.get("apply_to")
        return None if value is None else frozenset(value)

    def judge(self, docs: pd.DataFrame) -> Verdict:
        """The verdict on a batch of the documents the stage applies to (called on an
        empty batch too, so that its counters are in every shard's stats)."""
        raise NotImplementedError

    def open_outputs(self, output: Any) -> None:
        """Open the rule's outputs beyond ``docs``, ``rejected`` and ``stats`` (what a
        later gather step reads: index_check's keys and signatures), for ``judge`` to
        write batch by batch; the job calls it before the first batch."""

    def write_outputs(self, output: Any) -> None:
        """Finish and publish those outputs; the job calls it after the last batch."""

    def close(self) -> None:
        """Release what ``prepare()`` holds until the job ends (a GPU slot); the job
        calls it after the shard's last batch, or on an error."""

    def described(self) -> dict[str, Any]:
        """Settings the stats record beside the counts (the lists used, a mode)."""
        return {}

    def kept_counters(self, kept: pd.DataFrame) -> dict[str, Any]:
        """Counts over every document the stage keeps, judged or passed untouched."""
        return {}

    def __call__(self, docs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
        """(kept documents, rejected rows, stats) of a batch of documents."""
        docs = docs.reset_index(drop=True)
        apply_to = self.apply_to
        if apply_to is None:
            inside, outside = docs, docs.iloc[:0]
        else:
            scope = origins(docs).isin(apply_to)
            inside, outside = docs[scope], docs[~scope]
        verdict = self.judge(inside)
        keep = verdict.keep.reindex(inside.index).fillna(False).astype(bool)
        judged = inside.drop(columns=[c for c in self.renewed if c in inside.columns]).assign(
            **{name: _aligned(v, inside.index) for name, v in verdict.columns.items()}
        )
        passed = outside.assign(**{name: value for name, value in self.exempt.items()})
        parts = [part for part in (judged[keep], passed) if len(part)]
        kept = pd.concat(parts) if len(parts) > 1 else parts[0] if parts else judged[keep]
        dropped = judged[~keep]
        rejects = reject_records(
            dropped, self.name, _picked(verdict.reason, dropped), _picked(verdict.detail, dropped)
        )
        scoped = (
            {}
            if apply_to is None
            else {
                "apply_to": sorted(apply_to),
                self.not_applied_key: len(outside),
            }
        )
        return stage_outcome(
            self.name,
            docs,
            kept,
            rejects,
            **scoped,
            **self.described(),
            **verdict.counters,
            **self.kept_counters(kept),
        )


def _aligned(value: Any, index: pd.Index) -> Any:
    return value.reindex(index) if isinstance(value, pd.Series) else value


def _picked(value: str | pd.Series | Sequence[str], rows: pd.DataFrame) -> Any:
    return value.reindex(rows.index) if isinstance(value, pd.Series) else value


def load(path: str) -> type[DocStage]:
    """The stage class named ``module:Class`` (a rule's ``params.stage``)."""
    module, _, name = path.partition(":")
    found = getattr(importlib.import_module(module), name, None)
    if not (isinstance(found, type) and issubclass(found, DocStage)):
        raise TypeError(f"params.stage {path!r} is not a corpusforge.stage.DocStage subclass")
    return found


def run_job(smk: Any) -> dict:
    """The job of a protocol stage's rule: ``params.stage`` over ``input.docs`` (the
    rule's other named inputs are the stage's ``files``)."""
    from .runtime import doc_stage_job

    files = {name: path for name, path in smk.input.items() if name != "docs"}
    built: list[DocStage] = []

    def build() -> DocStage:
        built.append(load(smk.params.stage)(smk.params.settings, files))
        built[-1].open_outputs(smk.output)
        return built[-1]

    try:
        return doc_stage_job(smk, build, finish=lambda: built[-1].write_outputs(smk.output))
    finally:
        for stage in built:
            stage.close()
