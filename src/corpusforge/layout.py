"""Where a build-wide stage's files live in a workflow run, declared once.

A stage whose work spans the build (perplexity, quality) names every file it writes or
reads in ``PATHS`` (name -> path under the results folder, with ``{wildcards}``). Its
rules take their outputs from :meth:`Layout.path` (wildcards left open) and its input
functions the same paths with the wildcards filled, so a path is written in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, ClassVar

from .fetch import local_file

_WILDCARD = re.compile(r"\{(\w+)\}")


def fill(template: str, **wildcards: str) -> str:
    """``template`` with the given wildcards filled in, the others left as wildcards."""
    return _WILDCARD.sub(lambda m: str(wildcards.get(m[1], m[0])), template)


def names_pattern(values: Sequence[str]) -> str:
    """A wildcard regex matching exactly these values (nothing if none)."""
    return "|".join(re.escape(value) for value in values) if values else "(?!)"


class Layout:
    """Base of a stage's file layout; subclasses set ``PATHS``."""

    PATHS: ClassVar[Mapping[str, str]] = {}

    def __init__(self, out: Callable[[str], str]) -> None:
        # common.smk's out: a path under the results folder -> the workflow's path
        self.out = out

    pattern = staticmethod(names_pattern)

    def path(self, name: str, **wildcards: str) -> str:
        """The workflow's path of file ``name`` of ``PATHS``, the given wildcards filled
        in (a rule's output leaves them open)."""
        return self.out(fill(self.PATHS[name], **wildcards))

    def downloaded(self, source: Mapping[str, Any], **wildcards: str) -> str:
        """A configured source's local file: its path, or where the stage's download
        rule (output ``PATHS["download"]``) puts it."""
        folder = PurePosixPath(self.path("download", **wildcards)).parent
        return local_file(source, str(folder), "file")
