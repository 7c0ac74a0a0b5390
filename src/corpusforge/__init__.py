"""corpusforge: LLM pretraining corpora built the Cosmopedia / CC-NET way, with Snakemake."""

import os

__version__ = "0.1.0"

# Arrow's default allocator (mimalloc) keeps freed pages for a while before it gives
# them back; a job that reads and writes batch after batch then holds the pages of
# several batches. Purging at once keeps a job's memory at about one batch (set
# before pyarrow is loaded, which every job does after this; a value the user set is
# kept).
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
