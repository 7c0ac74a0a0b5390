"""Quality stage, the CC-NET way: SentencePiece + KenLM perplexity and buckets.

Every document is scored by the 5-gram KenLM model of its language over the
SentencePiece pieces of its normalized text, with CC-NET's formula

    perplexity = 10 ** (-sum(log10 P(line)) / sum(pieces(line) + 1))

(the ``+ 1`` is each line's end-of-sentence token), and is then put in a bucket by
per-language cutoffs: ``head`` below the 30th percentile, ``tail`` above the 60th,
``middle`` between (percentiles configurable). The cutoffs come from the corpus
being built, from held-out reference text, or from the config; the ones used are
recorded. Documents of a language without a model get bucket ``unscored``.

The stage runs as three kinds of job so that corpus cutoffs work: ``score_frame``
per shard, ``gather_cutoffs`` over every shard, ``PerplexityBucketStage`` per shard.
Models are trained by ``train_language_model`` (normalize, SentencePiece, ``lmplz``,
``build_binary``) or downloaded ready-made (e.g. CC-NET's ``{lang}.arpa.bin``).

Reasons for rejection: ``empty_text`` (nothing left to score after normalization),
``no_lm`` (no model for the language, when ``unscored: drop``), ``tail_bucket``
(when ``drop_tail`` is on).

Modules: ``normalize`` (CC-NET normalization), ``scoring`` (the models and document
perplexity), ``buckets`` (cutoffs and buckets), ``reference`` (reference text),
``training`` (training by subprocess, ready-made models), ``config`` (the config
section), ``layout`` (the files of a workflow run).
"""

from .buckets import (
    BUCKET,
    BUCKETS,
    STAGE,
    UNSCORED,
    PerplexityBucketStage,
    bucket_of,
    configured_cutoffs,
    corpus_perplexities,
    gather_cutoffs,
    percentile_cutoffs,
)
from .config import settings, training_settings
from .layout import WorkflowLayout
from .normalize import normalize_line, normalize_text, normalized_lines
from .reference import read_reference, reference_format, split_heldout, unique_documents
from .scoring import PERPLEXITY, LanguageModel, document_language, score_frame
from .training import (
    KENLM_BIN_ENV,
    KENLM_VERSION,
    KenLMNotFoundError,
    describe_pretrained,
    kenlm_bin_dir,
    kenlm_cache_dir,
    train_language_model,
)

__all__ = [
    "BUCKET",
    "BUCKETS",
    "KENLM_BIN_ENV",
    "KENLM_VERSION",
    "PERPLEXITY",
    "STAGE",
    "UNSCORED",
    "KenLMNotFoundError",
    "LanguageModel",
    "PerplexityBucketStage",
    "WorkflowLayout",
    "bucket_of",
    "configured_cutoffs",
    "corpus_perplexities",
    "describe_pretrained",
    "document_language",
    "gather_cutoffs",
    "kenlm_bin_dir",
    "kenlm_cache_dir",
    "normalize_line",
    "normalize_text",
    "normalized_lines",
    "percentile_cutoffs",
    "read_reference",
    "reference_format",
    "score_frame",
    "settings",
    "split_heldout",
    "train_language_model",
    "training_settings",
    "unique_documents",
]
