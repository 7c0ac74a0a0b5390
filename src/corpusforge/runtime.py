"""What every script adapter needs when Snakemake runs it: logging to the rule's log."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def logged(log_file: str | os.PathLike[str] | None) -> Iterator[logging.Logger]:
    """Send this process's stdout, stderr and logging to ``log_file``.

    File descriptors are redirected too, so output of engines and their
    subprocesses (vLLM's engine core, progress bars) also lands in the log.
    An exception is logged with its traceback before it propagates.
    """
    logger = logging.getLogger("corpusforge")
    if not log_file:
        logging.basicConfig(level=logging.INFO)
        yield logger
        return
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    try:
        yield logger
    except BaseException:
        logger.exception("failed")
        raise
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
