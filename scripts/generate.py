"""Snakemake adapter: generate one shard, resumably (see corpusforge.generate_job)."""

from corpusforge.generate_job import run_job

# vLLM starts its engine core in a subprocess: keep the work under the guard.
if __name__ == "__main__":
    run_job(snakemake)
