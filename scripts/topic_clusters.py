"""Snakemake adapter: embed and cluster the seed extracts (see corpusforge.topics.jobs)."""

from corpusforge.topics.jobs import cluster_job

cluster_job(snakemake)
