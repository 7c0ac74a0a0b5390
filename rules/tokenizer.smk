"""The generation model's tokenizer alone (token counts of web documents)."""


rule prepare_tokenizer:
    """Only the tokenizer files of the model (GGUF or pinned Hugging Face
    revision), once: a web build converts no model weights."""
    output:
        directory(out("tokenizers/{model}")),
    log:
        log_path("prepare_tokenizer", "{model}"),
    benchmark:
        bench_path("prepare_tokenizer", "{model}")
    conda:
        "../envs/generate.yaml"
    params:
        # the weights' dtype does not change the tokenizer
        model=canon({k: v for k, v in MODEL.items() if k not in ("name", "dtype")}),
    script:
        "../scripts/prepare_tokenizer.py"
