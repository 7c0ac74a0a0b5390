"""Snakemake adapter: generate one shard, resumably (see corpusforge.generate).

``params`` carry what the documents depend on (engine, model, sampling, system
prompt, engine args, filters, chunk size); settings that only change how the job
runs (``max_failure_rate``, the OpenAI client's base URL, key variable,
concurrency, timeout and retries) are read from ``snakemake.config``, so tuning
them does not regenerate finished shards.
"""

import os


def gpu_slot(smk):
    """The single place where the engine gets its GPUs.

    Takes ``smk.resources.gpu`` free devices with lock files (corpusforge.devices)
    and sets CUDA_VISIBLE_DEVICES, within any CUDA_VISIBLE_DEVICES given by Slurm;
    it is entered before vLLM starts (on the engine's first ``generate`` call).
    Nothing happens when no GPU is wanted.
    """
    from corpusforge.devices import default_lock_dir, gpu_slots

    results = (getattr(smk, "config", None) or {}).get("results", "results")
    return gpu_slots(smk.resources.gpu, lock_dir=default_lock_dir(results))


def run_settings(config):
    """Settings of the generation config that do not change the output."""
    from corpusforge.generate import RUN_DEFAULTS

    generation = (config or {}).get("generation", {})
    return {
        "max_failure_rate": float(
            generation.get("max_failure_rate", RUN_DEFAULTS["max_failure_rate"])
        ),
        "openai": dict(generation.get("openai") or {}),
    }


def main(smk, engine_factory=None):
    """Generate one shard. ``engine_factory`` (default ``corpusforge.engines.make_engine``)
    lets the benchmark reuse an engine that is already loaded."""
    from corpusforge import generate as gen
    from corpusforge.devices import gpu_hardware_present
    from corpusforge.engines import make_engine
    from corpusforge.io import read_parquet, write_json, write_parquet
    from corpusforge.records import REJECT_SCHEMA
    from corpusforge.runtime import logged

    with logged(smk.log[0]) as log:
        params = smk.params
        shard = smk.wildcards.shard
        engine_name = getattr(params, "engine", gen.ENGINE)
        settings = run_settings(getattr(smk, "config", {}))
        os.environ["HF_HUB_OFFLINE"] = "1"
        engine_args = dict(params.engine_args)
        if engine_name == "vllm":
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(params.cpu_kvcache_gib))
            # No GPU wanted, or a GPU request with no CUDA device behind it (a
            # cluster's fake GRES, as in CI): the engine runs on the CPU.
            if smk.resources.gpu == 0 or not gpu_hardware_present():
                gen.configure_cpu_threads(smk.threads)
                engine_args = {**gen.CPU_ENGINE_ARGS, **engine_args}
        prompts = read_parquet(smk.input.prompts)
        chunk_dir = gen.chunk_dir_for(smk.output.docs, shard)
        engine = (engine_factory or make_engine)(
            engine_name,
            sampling=params.sampling,
            system_prompt=params.system_prompt,
            model_path=getattr(smk.input, "model", None) or None,
            engine_args=engine_args,
            openai_cfg={**settings["openai"], "model": params.model_name},
            model_name=params.model_name,
        )
        log.info(
            "shard %s: %d prompts, engine %s, chunks in %s",
            shard,
            len(prompts),
            engine_name,
            chunk_dir,
        )
        # ---- DEVICES: engine start-up and use; wrap with the GPU slot allocator here only.
        with gpu_slot(smk), engine:
            outputs = gen.generate_shard(prompts, engine, chunk_dir, int(params.chunk_size))
        # ---- end of GPU use
        docs, rejects, stats = gen.collect(
            prompts, outputs, params.model_name, params.filters, engine=engine_name
        )
        gen.check_failure_rate(stats, rejects, settings["max_failure_rate"], shard)
        write_parquet(docs, smk.output.docs, schema=gen.DOC_SCHEMA)
        write_parquet(rejects, smk.output.rejected, schema=REJECT_SCHEMA)
        write_json({**stats, "shard": shard}, smk.output.stats)
        gen.ChunkStore(chunk_dir).remove()


# vLLM starts its engine core in a subprocess: keep the work under the guard.
if __name__ == "__main__":
    main(snakemake)
