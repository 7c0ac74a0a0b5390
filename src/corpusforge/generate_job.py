"""One ``generate`` job: where the engine runs, in which dtype, and the shard's files.

Rule ``generate`` hands :func:`run_job` its ``snakemake`` object. ``params`` carry
what the documents depend on (engine, model, sampling, system prompt, engine
arguments with the resolved dtype, filters, chunk size); settings that only change
how the job runs (``max_failure_rate``, ``allow_cpu_fallback``, the OpenAI
client's address, key variable, concurrency, timeout and retries) come from the
config, so tuning them does not regenerate finished shards.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from . import generate as gen
from .devices import VISIBLE, default_lock_dir, gpu_hardware_present, gpu_slots
from .engines import make_engine
from .io import read_parquet, write_json, write_parquet
from .precision import resolve_dtype
from .records import REJECT_SCHEMA
from .runtime import logged
from .serve import down_check, read_server_url

log = logging.getLogger("corpusforge.generate")


class GPUMissing(RuntimeError):
    """A job that was given GPUs finds no GPU on its node."""


def runs_on_gpu(gpus: int, allow_cpu_fallback: bool) -> bool:
    """Whether the engine of a job given ``gpus`` GPUs runs on them.

    A job given GPUs on a node without a CUDA device (a misconfigured node, a
    cluster's fake GRES) fails, naming the node, the request and
    ``CUDA_VISIBLE_DEVICES``, unless ``allow_cpu_fallback`` lets it run on the CPU.
    """
    if gpus <= 0:
        return False
    if gpu_hardware_present():
        return True
    where = (
        f"node {socket.gethostname()}: the job was given {gpus} GPU(s) "
        f"({VISIBLE}={os.environ.get(VISIBLE, '<unset>')!s}) but no NVIDIA device is present"
    )
    if not allow_cpu_fallback:
        raise GPUMissing(
            f"{where}. Fix the node or the GPU request, or set "
            "generation.allow_cpu_fallback: true to run on the CPU at CPU speed."
        )
    log.warning("%s; running on the CPU (generation.allow_cpu_fallback: true)", where)
    return False


def job_settings(config: dict[str, Any] | None) -> dict[str, Any]:
    """The generation settings that do not change the documents."""
    generation = config["generation"]
    return {
        "max_failure_rate": float(generation["max_failure_rate"]),
        "allow_cpu_fallback": bool(generation["allow_cpu_fallback"]),
        "openai": dict(generation["openai"]),
        "requested_dtype": generation["engine_args"]["dtype"],
    }


def log_dtype(dtype: str, requested: str, on_gpu: bool) -> None:
    """Log the dtype the engine is given and why; warn when this node would choose
    another (a cluster whose nodes differ: set the dtype in the config)."""
    here, reason = resolve_dtype(requested, gpus=1 if on_gpu else 0)
    if here == dtype:
        log.info("dtype %s (%s)", dtype, reason)
    else:
        log.warning(
            "dtype %s as resolved when the workflow was planned; on this node auto would "
            "choose %s (%s): set generation.engine_args.dtype to pin it",
            dtype,
            here,
            reason,
        )


def engine_settings(
    smk: Any, engine_args: dict[str, Any]
) -> tuple[dict[str, Any], dict, Callable[[], str | None] | None]:
    """(vLLM arguments for where this job runs, OpenAI client settings, the managed
    server's down check) of a job that runs the generation engine (rules generate and
    topic_labels): CPU threads and arguments on a machine without a GPU, the dtype
    logged, the managed server's address; a dead managed server fails the job at once."""
    params = smk.params
    settings = job_settings(getattr(smk, "config", {}))
    os.environ["HF_HUB_OFFLINE"] = "1"
    engine_args = dict(engine_args)
    gpus = int(getattr(smk.resources, "gpu", 0) or 0)
    openai_cfg = {**settings["openai"], "model": params.model_name}
    if params.engine == "vllm":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(params.cpu_kvcache_gib))
        on_gpu = runs_on_gpu(gpus, settings["allow_cpu_fallback"])
        if not on_gpu:
            gen.configure_cpu_threads(smk.threads)
            engine_args = {**gen.CPU_ENGINE_ARGS, **engine_args}
        log_dtype(engine_args["dtype"], settings["requested_dtype"], on_gpu)
    server = getattr(smk.input, "server", None)
    down = None
    if server:
        openai_cfg["base_url"] = read_server_url(server)
        down = down_check(server)
    return engine_args, openai_cfg, down


def run_job(smk: Any, engine_factory: Callable[..., gen.Engine] | None = None) -> dict:
    """Generate one shard. ``engine_factory`` (default :func:`make_engine`) lets the
    benchmark reuse an engine that is already loaded."""
    with logged(smk.log[0]):
        params = smk.params
        shard = smk.wildcards.shard
        engine_name = params.engine
        settings = job_settings(getattr(smk, "config", {}))
        gpus = int(getattr(smk.resources, "gpu", 0) or 0)
        engine_args, openai_cfg, down = engine_settings(smk, params.engine_args)
        prompts = read_parquet(smk.input.prompts)
        chunk_dir = gen.chunk_dir_for(smk.output.docs, shard)
        engine = (engine_factory or make_engine)(
            engine_name,
            sampling=params.sampling,
            system_prompt=params.system_prompt,
            model_path=getattr(smk.input, "model", None) or None,
            engine_args=engine_args,
            openai_cfg=openai_cfg,
            model_name=params.model_name,
            down=down,
        )
        log.info(
            "shard %s: %d prompts, engine %s, chunks in %s",
            shard,
            len(prompts),
            engine_name,
            chunk_dir,
        )
        results = smk.config["results"]
        # The GPU slots (CUDA_VISIBLE_DEVICES) are taken before the engine starts.
        with gpu_slots(gpus, lock_dir=default_lock_dir(results)), engine:
            outputs = gen.generate_shard(prompts, engine, chunk_dir, int(params.chunk_size))
        docs, rejects, stats = gen.collect(
            prompts, outputs, params.model_name, params.filters, engine=engine_name
        )
        gen.check_failure_rate(stats, rejects, settings["max_failure_rate"], shard)
        if "dtype" in engine_args:
            stats["dtype"] = engine_args["dtype"]
        write_parquet(docs, smk.output.docs, schema=gen.DOC_SCHEMA)
        write_parquet(rejects, smk.output.rejected, schema=REJECT_SCHEMA)
        stats = {**stats, "shard": shard}
        write_json(stats, smk.output.stats)
        gen.ChunkStore(chunk_dir).remove()
        return stats
