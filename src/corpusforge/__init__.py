"""corpusforge: LLM pretraining corpora built the Cosmopedia / CC-NET way, with Snakemake."""

__version__ = "0.1.0"
