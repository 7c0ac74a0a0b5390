"""The per-shard and gather steps of the stage over record batches: fingerprint, exact
clusters, signatures, filter."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..io import read_parquet
from ..stage import DocStage, Verdict
from .clusters import keep_order
from .config import BOILERPLATE, EXACT, NEAR, STAGE
from .hashing import char_hashes, exact_hashes, line_hashes, shingle_hashes, tokenize
from .minhash import Permutations, minhash
from .text import char_mode, doc_langs, normalize

# Documents are processed in batches of about this many characters (memory only;
# results do not depend on it).
BATCH_CHARS = 4_000_000


def _batches(texts: Sequence[str], limit: int = BATCH_CHARS) -> Iterator[slice]:
    start, size = 0, 0
    for i, t in enumerate(texts):
        size += len(t)
        if size >= limit:
            yield slice(start, i + 1)
            start, size = i + 1, 0
    if start < len(texts):
        yield slice(start, len(texts))


def _texts(docs: pd.DataFrame) -> list[str]:
    return [t if isinstance(t, str) else "" for t in docs["text"].tolist()]


def _perplexity(docs: pd.DataFrame) -> np.ndarray:
    if "perplexity" in docs.columns:
        return pd.to_numeric(docs["perplexity"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    return np.full(len(docs), np.nan)


def _detail(**fields: Any) -> str:
    return json.dumps(
        {k: v for k, v in fields.items() if v is not None}, sort_keys=True, ensure_ascii=False
    )


def fingerprint(docs: pd.DataFrame, cfg: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per document: exact hash, token count in its mode, length, perplexity, short flag.

    With boilerplate removal on, also the distinct non-empty line hashes of every
    document (``doc`` = row in the shard), ``counts`` telling whether the line is
    long enough to count towards boilerplate.
    """
    texts = _texts(docs)
    mode = char_mode(texts, doc_langs(docs), cfg["char_langs"])
    min_tokens = _min_tokens(mode, cfg)
    bp = cfg["boilerplate"]
    ehash = np.zeros(len(texts), dtype=np.uint64)
    ntok = np.zeros(len(texts), dtype=np.int64)
    para_parts: list[pd.DataFrame] = []
    for sl in _batches(texts):
        batch = texts[sl]
        words = tokenize(batch, False, lines=bp["enabled"])
        ehash[sl] = exact_hashes(words)
        ntok[sl] = words.counts
        chars = np.flatnonzero(mode[sl])
        if len(chars):
            ntok[sl.start + chars] = char_hashes([normalize(batch[i]) for i in chars])[1]
        if bp["enabled"]:
            toks = tokenize(batch, mode[sl], lines=True) if len(chars) else words
            lh = line_hashes(words)
            lcount = np.bincount(toks.line, minlength=toks.n_lines)
            ldoc = np.repeat(np.arange(len(batch)), np.diff(words.line_start)) + sl.start
            ok = lh != 0
            para_parts.append(
                pd.DataFrame(
                    {"doc": ldoc[ok], "hash": lh[ok], "counts": lcount[ok] >= bp["min_tokens"]}
                )
            )
    fp = pd.DataFrame(
        {
            "id": docs["id"].astype(str).to_numpy(),
            "exact_hash": ehash,
            "tokens": ntok,
            "length": np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts)),
            "perplexity": _perplexity(docs),
            "short": ntok < min_tokens,
        }
    )
    if para_parts:
        paras = pd.concat(para_parts, ignore_index=True)
        paras = (
            paras.sort_values(["doc", "hash", "counts"], kind="stable")
            .drop_duplicates(["doc", "hash"], keep="last")
            .reset_index(drop=True)
        )
    else:
        paras = pd.DataFrame(
            {
                "doc": np.zeros(0, np.int64),
                "hash": np.zeros(0, np.uint64),
                "counts": np.zeros(0, bool),
            }
        )
    return fp, paras


def _min_tokens(mode: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    n = np.where(mode, int(cfg["char_ngram"]), int(cfg["word_ngram"]))
    return np.maximum(n, int(cfg["min_tokens"]))


def concat_fingerprints(
    shards: Iterable[tuple[pd.DataFrame, pd.DataFrame]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (fingerprints, paragraphs) of several shards as one pair, for
    :func:`exact_duplicates`: each paragraph's ``doc`` is moved past the rows of
    the shards before its own."""
    fps, paras, offset = [], [], 0
    for fp, para in shards:
        para = para.assign(doc=para["doc"] + offset)
        offset += len(fp)
        fps.append(fp)
        paras.append(para)
    return pd.concat(fps, ignore_index=True), pd.concat(paras, ignore_index=True)


def exact_duplicates(
    fp: pd.DataFrame,
    paras: pd.DataFrame | None,
    cfg: dict[str, Any],
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Exact clusters over all shards, and the boilerplate paragraph hashes.

    ``fp``: the fingerprint rows of every shard, concatenated (``paras.doc`` indexes
    its rows). Returns the removed documents (``id``, ``kept_id``, ``cluster_id``),
    the sorted boilerplate hashes and stats.
    """
    n = len(fp)
    bp = cfg["boilerplate"]
    boiler = np.zeros(0, dtype=np.uint64)
    boiler_only = np.zeros(n, dtype=bool)
    if bp["enabled"] and paras is not None and len(paras):
        counted = paras.loc[paras["counts"].to_numpy(bool), "hash"].to_numpy(np.uint64)
        values, counts = np.unique(counted, return_counts=True)
        boiler = values[counts >= int(bp["min_docs"])]
        in_boiler = np.isin(paras["hash"].to_numpy(np.uint64), boiler)
        all_boiler = pd.Series(in_boiler).groupby(paras["doc"].to_numpy()).all()
        boiler_only[all_boiler.index[all_boiler.to_numpy()].to_numpy()] = True
    eligible = ~fp["short"].to_numpy(bool) & ~boiler_only
    removed = pd.DataFrame(columns=["id", "kept_id", "cluster_id"])
    groups = 0
    if cfg["exact"] and eligible.any():
        sub = fp[eligible].reset_index(drop=True)
        h = sub["exact_hash"].to_numpy(np.uint64)
        order = keep_order(
            h,
            sub["id"].to_numpy(),
            sub["length"].to_numpy(),
            sub["perplexity"].to_numpy(np.float64),
            cfg["keep"],
        )
        hs = h[order]
        first = np.ones(len(hs), dtype=bool)
        first[1:] = hs[1:] != hs[:-1]
        head = np.maximum.accumulate(np.where(first, np.arange(len(hs)), 0))
        dup = ~first
        ids = sub["id"].to_numpy()[order]
        removed = pd.DataFrame(
            {
                "id": ids[dup],
                "kept_id": ids[head[dup]],
                "cluster_id": [f"exact:{int(x):016x}" for x in hs[dup]],
            }
        )
        groups = int(np.count_nonzero(first & np.append(dup[1:], False)))
    removed = removed.sort_values("id", kind="stable").reset_index(drop=True)
    stats = {
        "docs": n,
        "short_docs": int(fp["short"].sum()),
        "exact_clusters": groups,
        "exact_removed": len(removed),
        "boilerplate_hashes": len(boiler),
        "boilerplate_only_docs": int(boiler_only.sum()),
    }
    return removed, np.sort(boiler), stats


def strip_boilerplate(
    texts: Sequence[str], boilerplate: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Texts without their boilerplate lines, and the number of lines removed from each."""
    texts = list(texts)
    removed = np.zeros(len(texts), dtype=np.int64)
    if len(boilerplate) == 0 or not texts:
        return texts, removed
    for sl in _batches(texts):
        words = tokenize(texts[sl], False, lines=True)
        drop = np.isin(line_hashes(words), boilerplate)
        if not drop.any():
            continue
        ldoc = np.repeat(np.arange(sl.stop - sl.start), np.diff(words.line_start))
        per_doc = np.bincount(ldoc[drop], minlength=sl.stop - sl.start)
        removed[sl] = per_doc
        for d in np.flatnonzero(per_doc):
            lo = words.line_start[d]
            lines = texts[sl.start + d].split("\n")
            keep = ~drop[lo : lo + len(lines)]
            texts[sl.start + d] = "\n".join(x for x, k in zip(lines, keep, strict=True) if k)
    return texts, removed


def signatures(
    docs: pd.DataFrame,
    exact_removed: Iterable[str],
    boilerplate: np.ndarray,
    cfg: dict[str, Any],
    perms: Permutations | None = None,
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """MinHash signatures of one shard's documents that take part in near dedup.

    Skipped: exact duplicates already removed, and documents shorter than
    ``min_tokens`` (after boilerplate lines are stripped). Returns the meta rows
    (``id``, ``length``, ``perplexity``), the matching signature matrix and stats.
    """
    perms = perms or Permutations(cfg["num_perm"], cfg["seed"], cfg["scheme"])
    if not isinstance(exact_removed, set | frozenset):
        exact_removed = set(exact_removed)
    skip = docs["id"].astype(str).isin(exact_removed).to_numpy()
    docs = docs[~skip].reset_index(drop=True)
    texts = _texts(docs)
    length = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    texts, _ = strip_boilerplate(texts, boilerplate)
    mode = char_mode(texts, doc_langs(docs), cfg["char_langs"])
    min_tokens = _min_tokens(mode, cfg)
    sig = np.zeros((len(texts), perms.num_perm), dtype=np.uint32)
    signed = np.zeros(len(texts), dtype=bool)
    if cfg["near"]:
        for sl in _batches(texts):
            for is_char in (False, True):
                rows = np.flatnonzero(mode[sl] == is_char) + sl.start
                if len(rows) == 0:
                    continue
                toks = tokenize([texts[i] for i in rows], is_char)
                ok = toks.counts >= min_tokens[rows]
                n = int(cfg["char_ngram"] if is_char else cfg["word_ngram"])
                hv, offsets = shingle_hashes(toks, n)
                sig[rows] = minhash(hv, offsets, perms)
                signed[rows] = ok
    meta = pd.DataFrame(
        {
            "id": docs["id"].astype(str).to_numpy()[signed],
            "length": length[signed],
            "perplexity": _perplexity(docs)[signed],
        }
    )
    stats = {
        "docs": len(skip),
        "exact_skipped": int(skip.sum()),
        "signed": int(signed.sum()),
        "short_docs": int((~signed).sum()) if cfg["near"] else 0,
        "char_mode_docs": int(mode.sum()),
    }
    return meta, sig[signed], stats


def read_hashes(path: str | os.PathLike[str]) -> np.ndarray:
    """The ``hash`` column of a hash file (boilerplate line hashes), as uint64."""
    return pq.read_table(path).column("hash").to_numpy().astype(np.uint64)


class DedupStage(DocStage):
    """Rule ``dedup``: keep one document per cluster; reject the others with their
    cluster and twin (``exact_duplicate``, ``near_duplicate``).

    ``files["removed"]``: the decisions of every shard (rule dedup_clusters; only the
    rows of this shard's ids are used); ``files["boilerplate"]``: the boilerplate line
    hashes (rule dedup_exact); each a path, or the loaded frame / hash array. Kept
    documents get ``dup_count`` (duplicates removed in their favour) and, with
    ``boilerplate.enabled``, lose their boilerplate lines (``boilerplate_lines``); a
    document left without text is ``boilerplate_only`` (its rejected row holds the
    text it came with).
    """

    name = STAGE
    section = "dedup"

    def prepare(self) -> None:
        removed, boilerplate = self.files["removed"], self.files["boilerplate"]
        self.removed = removed if isinstance(removed, pd.DataFrame) else read_parquet(removed)
        self.boilerplate = (
            boilerplate if isinstance(boilerplate, np.ndarray) else read_hashes(boilerplate)
        )
        self.dup_counts = self.removed["kept_id"].value_counts()

    def judge(self, docs: pd.DataFrame) -> Verdict:
        ids = docs["id"].astype(str)
        mine = self.removed[self.removed["id"].isin(set(ids))].set_index("id")
        gone = ids.isin(mine.index).to_numpy()
        reason = pd.Series(None, index=docs.index, dtype=object)
        detail = pd.Series(None, index=docs.index, dtype=object)
        for cause in (EXACT, NEAR):
            sel = mine[mine["reason"] == cause]
            if len(sel):
                rows = docs[gone & ids.isin(sel.index).to_numpy()]
                info = sel.loc[rows["id"].astype(str)]
                reason[rows.index] = cause
                detail[rows.index] = [
                    _detail(
                        cluster_id=r.cluster_id,
                        kept_id=r.kept_id,
                        cluster_size=int(r.cluster_size),
                        jaccard=None if pd.isna(r.jaccard) else float(r.jaccard),
                        exact_of=r.exact_of if isinstance(r.exact_of, str) else None,
                    )
                    for r in info.itertuples()
                ]
        keep = ~gone
        columns: dict[str, Any] = {
            "dup_count": ids.map(self.dup_counts).fillna(0).astype(np.int64),
            "boilerplate_lines": pd.Series(np.zeros(len(docs), dtype=np.int64), index=docs.index),
        }
        if self.cfg["boilerplate"]["enabled"]:
            staying = docs[keep]
            texts, nlines = strip_boilerplate(_texts(staying), self.boilerplate)
            empty = (nlines > 0) & (tokenize(texts, False).counts == 0)
            # the stripped texts; a document left without text keeps the text it came
            # with (its rejected row), as do the duplicates
            text = docs["text"].copy()
            text.loc[staying.index[~empty]] = [
                t for t, e in zip(texts, empty, strict=True) if not e
            ]
            columns["text"] = text
            columns["boilerplate_lines"].loc[staying.index] = nlines
            left_empty = staying.index[empty]
            reason[left_empty] = BOILERPLATE
            detail[left_empty] = [_detail(lines=int(x)) for x in nlines[empty]]
            keep = keep & ~docs.index.isin(left_empty)
        return Verdict(
            keep=pd.Series(keep, index=docs.index), reason=reason, detail=detail, columns=columns
        )

    def kept_counters(self, kept: pd.DataFrame) -> dict[str, Any]:
        return {
            "kept_with_duplicates": int((kept["dup_count"] > 0).sum()),
            "duplicates_represented": int(kept["dup_count"].sum()),
            "boilerplate_lines_removed": int(kept["boilerplate_lines"].sum()),
        }
