"""Dedup stage: exact + MinHash near-duplicate removal, as scatter/gather steps.

The steps (one Snakemake rule each, files between them; see rules/dedup.smk):

1. ``fingerprint`` (per shard): the 64-bit hash of each document's normalized
   text, its length, its language mode and, when boilerplate removal is on, the
   hash of each normalized paragraph (line).
2. ``exact`` (gather): documents with the same hash form an exact cluster and all
   but one are removed; paragraphs found in ``min_docs`` or more documents are
   boilerplate (CC-NET style).
3. ``signatures`` (per shard): MinHash signatures of word n-grams (character
   n-grams for zh/ja). Tokens come from Python's C string methods and a cached
   token -> hash table; shingle hashes, permutations and minima are numpy over
   whole batches of documents, with datasketch's permutation math (its default
   ``affine32`` scheme, or ``legacy``), checked against datasketch in the tests.
4. ``bands`` (per band group): LSH bands of ``rows`` signature rows; documents
   sharing a band hash become candidate pairs (sort and group, no dict).
5. ``clusters`` (gather): candidate pairs verified by estimated Jaccard, merged
   with union-find; one document per cluster is kept by a deterministic rule.
6. ``filter`` (per shard): drop the others, each into the rejected file with
   ``reason`` and a JSON ``detail`` (``cluster_id``, ``kept_id``, ...).

Reasons for rejection: ``exact_duplicate``, ``near_duplicate``, ``boilerplate_only``.

Normalization (everywhere): NFKC, lower case, every character that is not a
letter, digit or mark (punctuation, symbols, spaces, controls) is a separator.
Tokens are runs of letters/digits/marks (word mode) or single characters
(character mode, for the languages in ``char_langs``).

Modules: ``config`` (settings, bands and rows), ``text`` (normalization,
languages), ``hashing`` (token, document, line and shingle hashes), ``minhash``
(signatures, their files, LSH bands), ``clusters`` (union-find, the document each
cluster keeps), ``steps`` (the steps over record batches).
"""

from .clusters import decisions, keep_order, near_clusters, union_find
from .config import (
    BOILERPLATE,
    EXACT,
    NEAR,
    STAGE,
    band_group_names,
    bands_of_group,
    candidate_probability,
    settings,
)
from .hashing import exact_hashes, line_hashes, shingle_hashes, tokenize
from .minhash import (
    Permutations,
    band_candidates,
    bucket_pairs,
    estimated_jaccard,
    minhash,
    read_signatures,
    signature_table,
)
from .steps import (
    DedupStage,
    concat_fingerprints,
    exact_duplicates,
    fingerprint,
    signatures,
    strip_boilerplate,
)
from .text import char_mode, doc_langs, jaccard, normalize, reference_shingles, reference_tokens

__all__ = [
    "BOILERPLATE",
    "EXACT",
    "NEAR",
    "STAGE",
    "DedupStage",
    "Permutations",
    "band_candidates",
    "band_group_names",
    "bands_of_group",
    "bucket_pairs",
    "candidate_probability",
    "char_mode",
    "concat_fingerprints",
    "decisions",
    "doc_langs",
    "estimated_jaccard",
    "exact_duplicates",
    "exact_hashes",
    "fingerprint",
    "jaccard",
    "keep_order",
    "line_hashes",
    "minhash",
    "near_clusters",
    "normalize",
    "read_signatures",
    "reference_shingles",
    "reference_tokens",
    "settings",
    "shingle_hashes",
    "signature_table",
    "signatures",
    "strip_boilerplate",
    "tokenize",
    "union_find",
]
