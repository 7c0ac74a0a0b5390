"""Snakemake adapter for rules/filters.smk (see corpusforge.filters)."""


def main(smk):
    from corpusforge.filters import run_shard
    from corpusforge.runtime import logged

    with logged(smk.log[0] if smk.log else None):
        run_shard(
            smk.input.docs,
            smk.output.docs,
            smk.output.rejected,
            smk.output.stats,
            smk.params.settings,
            shard=smk.wildcards.shard,
        )


if __name__ == "__main__":
    main(snakemake)
