"""Snakemake adapter for rules/decontam.smk (see corpusforge.decontam).

Rule ``download_benchmark``: fetch a remote benchmark file.
Rule ``decontam_index``: hash the benchmarks' n-grams into one index file.
Rule ``decontam``: check one shard of documents against the index.
"""


def main(smk):
    from corpusforge.decontam import run_index, run_shard
    from corpusforge.fetch import fetch_source
    from corpusforge.runtime import logged

    with logged(smk.log[0] if smk.log else None):
        if smk.rule == "download_benchmark":
            fetch_source(smk.params.source, smk.output[0])
        elif smk.rule == "decontam_index":
            files = {name: str(path) for name, path in smk.input.items()}
            run_index(files, smk.params.settings, smk.output.index, smk.output.stats)
        else:
            run_shard(
                smk.input.docs,
                smk.input.index,
                smk.output.docs,
                smk.output.rejected,
                smk.output.stats,
                smk.params.settings,
                shard=smk.wildcards.shard,
            )


if __name__ == "__main__":
    main(snakemake)
