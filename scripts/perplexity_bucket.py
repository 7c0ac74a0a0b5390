"""Snakemake adapter for rule perplexity_bucket (see corpusforge.perplexity.stage)."""

from corpusforge.perplexity.stage import bucket_shard
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    bucket_shard(
        s.input.scored,
        s.input.cutoffs,
        s.params.models,
        s.params.unscored,
        s.params.drop_tail,
        s.output.docs,
        s.output.rejected,
        s.output.stats,
        shard=s.wildcards.shard,
        batch_rows=s.params.batch_rows,
    )
