"""Atomic file output, apart from corpusforge.io so that jobs which write no table
(the tokenize jobs, one per final file) need not import pandas and pyarrow."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PathLike = str | os.PathLike[str]


def temp_beside(path: PathLike, suffix: str = "") -> Path:
    """A new empty hidden file beside ``path`` (its folder made), to be renamed onto it."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest.name}.", suffix=f".tmp{suffix}", dir=dest.parent
    )
    os.close(fd)
    return Path(tmp_name)


@contextlib.contextmanager
def atomic_output(path: PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    dest = Path(path)
    tmp = temp_beside(dest, suffix)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
