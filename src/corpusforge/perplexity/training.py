"""Training a language's models by subprocess: SentencePiece, then KenLM's ``lmplz`` and
``build_binary`` (found by ``kenlm_bin_dir``); and the description of ready-made ones."""

from __future__ import annotations

import io
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io import sha256_file
from .normalize import normalized_lines
from .reference import read_reference, split_heldout, unique_documents
from .scoring import LanguageModel

KENLM_VERSION = "0.3.0"


KENLM_BIN_ENV = "CORPUSFORGE_KENLM_BIN"


log = logging.getLogger("corpusforge.perplexity")


class KenLMNotFoundError(RuntimeError):
    """lmplz / build_binary are not where the stage looks for them."""


def kenlm_cache_dir(version: str = KENLM_VERSION) -> Path:
    """Where tools/build_kenlm.sh caches the binaries."""
    root = os.environ.get("CORPUSFORGE_KENLM_CACHE")
    if not root:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(cache, "corpusforge")
    return Path(root) / f"kenlm-{version}" / "bin"


def kenlm_bin_dir(
    tools: Sequence[str] = ("lmplz", "build_binary"), version: str = KENLM_VERSION
) -> Path:
    """The folder holding KenLM's command-line tools.

    ``$CORPUSFORGE_KENLM_BIN`` if set, else the cache of tools/build_kenlm.sh.
    Raises :class:`KenLMNotFoundError` saying how to get them.
    """
    env = os.environ.get(KENLM_BIN_ENV)
    folder = Path(env) if env else kenlm_cache_dir(version)
    missing = [t for t in tools if not os.access(folder / t, os.X_OK)]
    if missing:
        where = f"${KENLM_BIN_ENV}={env}" if env else f"the build cache {folder}"
        raise KenLMNotFoundError(
            f"KenLM tools {', '.join(missing)} not found in {where}. Build them once with "
            f"`bash tools/build_kenlm.sh` (needs cmake, g++ and Debian's libboost-program-"
            f"options-dev libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev "
            f"libbz2-dev liblzma-dev), or point ${KENLM_BIN_ENV} at a folder holding them."
        )
    return folder


def _run(cmd: list[str], stdin: Path | None = None, stdout: Path | None = None) -> None:
    log.info("running %s", " ".join(cmd))
    with (
        open(stdin, "rb") if stdin else open(os.devnull, "rb") as src,
        open(stdout, "wb") if stdout else open(os.devnull, "wb") as dst,
    ):
        proc = subprocess.run(cmd, stdin=src, stdout=dst, stderr=subprocess.PIPE, check=False)
    tail = proc.stderr.decode("utf-8", "replace")[-4000:]
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({proc.returncode}):\n{tail}")
    log.info("%s said:\n%s", Path(cmd[0]).name, tail[-1500:])


def train_sentencepiece(
    lines_file: Path, prefix: Path, settings: Mapping[str, Any], threads: int = 1
) -> Path:
    """Train a SentencePiece model on normalized lines; return the .model path."""
    import sentencepiece as spm

    vocab_size = int(settings["sp_vocab_size"])
    for _attempt in range(2):
        spm.set_random_generator_seed(int(settings["seed"]) + 1)
        try:
            _train_sp(spm, lines_file, prefix, settings, vocab_size, threads)
            break
        except RuntimeError as exc:
            # The vocabulary must hold every character the coverage keeps.
            found = re.search(r"smaller than required_chars\. \d+ vs (\d+)", str(exc))
            if not found or _attempt:
                raise
            needed = int(found.group(1))
            log.warning(
                "sp_vocab_size %d < the %d characters to cover: using %d",
                vocab_size,
                needed,
                needed + 256,
            )
            vocab_size = needed + 256
    return prefix.with_suffix(".model")


def _train_sp(spm, lines_file, prefix, settings, vocab_size, threads):
    # Lines come through an iterator and the model through a writer, so that no
    # temporary path is recorded in the model (same bytes on every run).
    model = io.BytesIO()
    with open(lines_file, encoding="utf-8") as lines:
        spm.SentencePieceTrainer.train(
            sentence_iterator=(line.rstrip("\n") for line in lines),
            model_writer=model,
            vocab_size=vocab_size,
            model_type=settings["sp_model_type"],
            character_coverage=float(settings["sp_character_coverage"]),
            input_sentence_size=int(settings["sp_input_sentence_size"]),
            shuffle_input_sentence=True,
            hard_vocab_limit=False,
            max_sentence_length=1 << 16,
            num_threads=max(1, int(threads)),
            minloglevel=1,
        )
    prefix.with_suffix(".model").write_bytes(model.getvalue())


def train_language_model(
    lang: str,
    reference: str | os.PathLike,
    sp_out: str | os.PathLike,
    lm_out: str | os.PathLike,
    settings: Mapping[str, Any],
    *,
    reference_format_name: str | None = None,
    text_field: str = "text",
    threads: int = 1,
    bin_dir: Path | None = None,
    workdir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Train ``lang``'s SentencePiece and KenLM models from a reference corpus.

    Normalizes the reference the CC-NET way, holds out a fraction of its documents,
    trains SentencePiece on the rest, tokenizes it, runs ``lmplz -o <order>`` and
    ``build_binary``, then scores the held-out documents. Returns a description of
    the models with the held-out perplexities (for reference cutoffs). ``settings``:
    every training setting (``with_defaults("perplexity")["training"]`` the defaults).
    """
    cfg = dict(settings)
    if cfg["binary"] not in ("probing", "trie"):
        raise ValueError(f"binary must be probing or trie, got {cfg['binary']!r}")
    bins = bin_dir or kenlm_bin_dir()
    started = time.perf_counter()
    docs, duplicates = unique_documents(
        read_reference(reference, reference_format_name, text_field)
    )
    train, heldout = split_heldout(docs, float(cfg["heldout_fraction"]), int(cfg["seed"]))
    if not train:
        raise ValueError(f"{reference}: no training text for {lang}")
    with tempfile.TemporaryDirectory(prefix=f"lm-{lang}-", dir=workdir) as tmp_name:
        tmp = Path(tmp_name)
        lines_file = tmp / "train.txt"
        n_lines = 0
        with open(lines_file, "w", encoding="utf-8", newline="\n") as handle:
            for doc in train:
                for line in normalized_lines("\n".join(doc)):
                    handle.write(line + "\n")
                    n_lines += 1
        sp_model = train_sentencepiece(lines_file, tmp / "sp", cfg, threads)
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))
        pieces_file = tmp / "pieces.txt"
        n_pieces = 0
        with (
            open(lines_file, encoding="utf-8") as src,
            open(pieces_file, "w", encoding="utf-8", newline="\n") as dst,
        ):
            for batch in _batches(src, 10000):
                for pieces in sp.encode(batch, out_type=str):
                    n_pieces += len(pieces)
                    dst.write(" ".join(pieces) + "\n")
        arpa = tmp / "lm.arpa"
        _run(
            [
                str(bins / "lmplz"),
                "-o",
                str(int(cfg["order"])),
                "-S",
                str(cfg["lmplz_memory"]),
                "-T",
                str(tmp),
                *map(str, cfg["lmplz_args"]),
            ],
            stdin=pieces_file,
            stdout=arpa,
        )
        binary = tmp / "lm.bin"
        extra = ["-q", "8", "-b", "8", "-a", "64", "trie"] if cfg["binary"] == "trie" else []
        _run([str(bins / "build_binary"), *extra, str(arpa), str(binary)])
        for src_path, dest in ((sp_model, Path(sp_out)), (binary, Path(lm_out))):
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(f".{dest.name}.partial")
            shutil.copyfile(src_path, partial)
            os.replace(partial, dest)
    model = LanguageModel.load(lang, sp_out, lm_out)
    heldout_pp = model.score_texts(["\n".join(doc) for doc in heldout])
    heldout_pp = sorted(round(float(v), 1) for v in heldout_pp if not math.isnan(v))
    return {
        "lang": lang,
        "kind": "trained",
        "sp_model": str(sp_out),
        "lm": str(lm_out),
        "sp_sha256": sha256_file(sp_out),
        "lm_sha256": sha256_file(lm_out),
        "settings": cfg,
        "reference": {
            "documents": len(docs),
            "duplicate_documents_dropped": duplicates,
            "train_documents": len(train),
            "train_lines": n_lines,
            "train_pieces": n_pieces,
            "heldout_documents": len(heldout),
        },
        "sp_vocab_size": int(sp.get_piece_size()),
        "reference_perplexities": heldout_pp,
        "train_seconds": round(time.perf_counter() - started, 1),
    }


def describe_pretrained(
    lang: str,
    sp_model: str | os.PathLike,
    lm: str | os.PathLike,
    reference: str | os.PathLike | None = None,
    reference_format_name: str | None = None,
    text_field: str = "text",
) -> dict[str, Any]:
    """Description of a ready-made model, scoring its reference corpus if one is given."""
    meta: dict[str, Any] = {
        "lang": lang,
        "kind": "pretrained",
        "sp_model": str(sp_model),
        "lm": str(lm),
        "sp_sha256": sha256_file(sp_model),
        "lm_sha256": sha256_file(lm),
        "reference_perplexities": [],
    }
    if reference is not None:
        model = LanguageModel.load(lang, sp_model, lm)
        docs = read_reference(reference, reference_format_name, text_field)
        values = model.score_texts(["\n".join(d) for d in docs])
        meta["reference"] = {"documents": len(docs)}
        meta["reference_perplexities"] = sorted(
            round(float(v), 1) for v in values if not math.isnan(v)
        )
    return meta


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line.rstrip("\n"))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
