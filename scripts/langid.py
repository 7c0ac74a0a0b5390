"""Snakemake adapter for rules/langid.smk (see corpusforge.langid).

Rule ``langid``: identify the language of one shard of documents.
Rule ``download_langid_model``: fetch a configured model file (sha256 checked).
"""


def main(smk):
    from corpusforge.langid import fetch_model, run_shard
    from corpusforge.runtime import logged

    with logged(smk.log[0] if smk.log else None):
        if smk.rule == "download_langid_model":
            fetch_model(smk.params.source, smk.output[0])
            return
        run_shard(
            smk.input.docs,
            smk.input.model,
            smk.output.docs,
            smk.output.rejected,
            smk.output.stats,
            smk.params.settings,
            smk.params.model,
            shard=smk.wildcards.shard,
        )


if __name__ == "__main__":
    main(snakemake)
