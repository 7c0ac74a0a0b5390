"""corpusforge: LLM pretraining corpora built the Cosmopedia / CC-NET way, as a Snakemake workflow."""

__version__ = "0.1.0"
