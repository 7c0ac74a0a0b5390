"""Snakemake adapter: label, judge and balance the topic clusters (see corpusforge.topics.jobs)."""

from corpusforge.topics.jobs import label_job

# vLLM starts its engine core in a subprocess: keep the work under the guard.
if __name__ == "__main__":
    label_job(snakemake)
