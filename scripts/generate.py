"""Snakemake adapter: generate one shard with vLLM (see corpusforge.generate)."""

import os


def main(smk):
    from corpusforge.generate import collect, configure_cpu_threads, run_vllm
    from corpusforge.io import read_parquet, write_json, write_parquet
    from corpusforge.records import REJECT_SCHEMA
    from corpusforge.runtime import logged

    with logged(smk.log[0]):
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(smk.params.cpu_kvcache_gib))
        if smk.resources.gpu == 0:
            configure_cpu_threads(smk.threads)
        prompts = read_parquet(smk.input.prompts)
        outputs = run_vllm(
            smk.input.model,
            prompts["prompt"].tolist(),
            prompts["id"].tolist(),
            smk.params.sampling,
            smk.params.engine_args,
            smk.params.system_prompt,
        )
        docs, rejects, stats = collect(prompts, outputs, smk.params.model_name, smk.params.filters)
        write_parquet(docs, smk.output.docs)
        write_parquet(rejects, smk.output.rejected, schema=REJECT_SCHEMA)
        write_json({**stats, "shard": smk.wildcards.shard}, smk.output.stats)


# vLLM starts its engine core in a subprocess: keep the work under the guard.
if __name__ == "__main__":
    main(snakemake)
