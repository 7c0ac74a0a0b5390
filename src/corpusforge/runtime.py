"""What every script adapter needs when Snakemake runs it: logging to the rule's log."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .io import StageStep


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


def doc_stage_job(
    smk: Any, make_step: Callable[[], StageStep], finish: Callable[[], None] | None = None
) -> dict:
    """A script adapter's whole body for a per-shard document stage rule: log to the
    rule's log, build the step from the rule's params (``make_step``, called inside
    the log so config errors land there), run it over ``input.docs`` (in batches of
    ``params.batch_rows`` documents where the rule sets it), write
    ``output.docs|rejected|stats``, then call ``finish`` (the step's last checks or
    outputs; its errors land in the log too)."""
    from .io import run_doc_stage

    with logged(smk.log[0] if smk.log else None) as log:
        step = make_step()
        stats = run_doc_stage(
            step,
            smk.input.docs,
            smk.output.docs,
            smk.output.rejected,
            smk.output.stats,
            shard=smk.wildcards.shard,
            batch_rows=getattr(smk.params, "batch_rows", None),
        )
        if finish is not None:
            finish()
        log.info(
            "%s: kept %d of %d; rejected %s",
            stats.get("stage"),
            stats["kept"],
            stats["in"],
            stats["rejected_by_reason"],
        )
        return stats
