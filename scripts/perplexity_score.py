"""Snakemake adapter for rule perplexity_score (see corpusforge.perplexity.stage)."""

from corpusforge.perplexity.stage import score_shard
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    score_shard(s.input.docs, s.params.models, s.output.scored, s.threads, s.params.batch_rows)
