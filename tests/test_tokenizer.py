"""The model's tokenizer alone: extracted from the GGUF, counts equal to the model's."""

from __future__ import annotations

import json
import lzma
import random
from pathlib import Path

import pytest

from corpusforge.model import ModelError, gguf_path
from corpusforge.tokenizer import (
    COUNT_BATCH,
    _backend,
    _piece_table,
    prepare_tokenizer,
    token_counter,
    token_ids,
)

# Crafted documents: English and Chinese prose, mixed scripts, code, emoji, numbers,
# whitespace runs, a special token written in the text, an empty document.
DOCS = [
    "The quick brown fox jumps over the lazy dog. It's 3:45pm -- isn't it?",
    "自然语言处理是人工智能的一个重要领域。它研究人与计算机之间用自然语言进行有效通信的理论和方法。",
    "混合 mixed text：中文与 English，数字 12345 和标点！？「引号」",
    "def f(x):\n    return {k: v for k, v in x.items()}\n\n\n\t  trailing   spaces   ",
    "Emoji 🙂🚀 and accents: café, naïve, Ångström; ﬁ ligature, ｆｕｌｌｗｉｄｔｈ.",
    "<|im_start|>user\nhello<|im_end|> plain text after special tokens",
    "",
    "Line one.\nLine two.\r\nLine three." * 50,
]


PROVENANCE = "corpusforge-tokenizer.json"


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    dest = tmp_path_factory.mktemp("tok") / "smollm2"
    return prepare_tokenizer({"source": "gguf"}, dest)


def model_counts(folder, texts):
    """Today's counts: transformers' tokenizer of the folder, no special tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def test_the_tokenizer_folder_holds_no_weights(tokenizer_dir):
    names = {p.name for p in tokenizer_dir.iterdir()}
    assert "tokenizer.json" in names
    assert not any(n.endswith((".safetensors", ".bin", ".gguf")) for n in names)
    provenance = json.loads((tokenizer_dir / "corpusforge-tokenizer.json").read_text())
    assert provenance == {"source": "gguf", "gguf_file": gguf_path({"source": "gguf"}).name}


def test_the_folder_is_the_one_autotokenizer_saves_from_the_gguf(tokenizer_dir, tmp_path):
    """prepare_tokenizer reads the GGUF with the generic fast class (no torch import):
    the files are those AutoTokenizer's choice of class saves."""
    from transformers import AutoTokenizer

    gguf = gguf_path({"source": "gguf"})
    AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(tmp_path)
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == sorted(p.name for p in tokenizer_dir.iterdir() if p.name != PROVENANCE)
    for name in saved:
        assert (tmp_path / name).read_bytes() == (tokenizer_dir / name).read_bytes(), name


def test_same_tokenizer_as_the_converted_model(tokenizer_dir, smollm2_dir):
    ours = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = json.loads((smollm2_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert ours == model


def test_counts_equal_the_model_tokenizer_on_en_and_zh(tokenizer_dir, smollm2_dir):
    expected = model_counts(smollm2_dir, DOCS)
    assert expected[0] > 10 and expected[1] > 20 and expected[6] == 0
    assert token_counter(tokenizer_dir)(DOCS) == expected
    assert token_counter(smollm2_dir, threads=2)(DOCS) == expected
    assert model_counts(tokenizer_dir, DOCS) == expected


def test_piece_counts_equal_whole_text_counts_on_random_text(tokenizer_dir, smollm2_dir):
    """Whitespace of every kind next to words, punctuation, digits, contractions,
    Han characters, marks, control and format characters: sums of piece counts
    equal the counts of the whole texts."""
    count = token_counter(tokenizer_dir)
    assert _piece_table(_backend(tokenizer_dir), ids=False) is not None  # the pieces' path
    alphabet = [
        *"ab Zé1!'s'.,-", "'s", "'ll", "  ", "\n", "\n\n", "\t", "\r\n", " \n ",
        *"\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2002\u200b\u2028\u202f\u3000\ufeff",
        *"中文。、\u0301🙂", "word", " the", "<file", "name>",
    ]  # fmt: skip
    rng = random.Random(5)
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(3000)]
    assert count(texts) == model_counts(smollm2_dir, texts)
    assert_ids_of_whole_texts(tokenizer_dir, [*texts, *DOCS])


def assert_ids_of_whole_texts(folder, texts):
    """token_ids (the piece table, what rule tokenize writes) gives the ids of
    encoding each text whole, twice (the second time from the table)."""
    backend = _backend(folder)
    whole = [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
    ids = token_ids(backend)
    assert ids(texts) == whole
    assert ids(texts) == whole


def test_counts_on_reference_prose(tokenizer_dir, smollm2_dir):
    root = Path(__file__).resolve().parents[1] / "resources" / "lm"
    texts = []
    for path in sorted(root.glob("*.txt.xz")):
        text = lzma.decompress(path.read_bytes()).decode("utf-8")
        texts += [b for b in text.split("\n\n") if b.strip()][:400]
    assert len(texts) > 400
    count = token_counter(tokenizer_dir)
    assert count(texts) == model_counts(smollm2_dir, texts)
    assert count(texts) == model_counts(smollm2_dir, texts)  # from the table of pieces
    assert_ids_of_whole_texts(tokenizer_dir, texts)


def test_values_do_not_depend_on_how_new_pieces_are_grouped(tokenizer_dir, monkeypatch):
    """New pieces are tokenized PIECES_PER_CALL to a text, TEXTS_PER_CALL texts to a
    call: small groups, with a last group of one text, give the ids and counts of the
    whole texts."""
    import corpusforge.tokenizer as tok

    monkeypatch.setattr(tok, "PIECES_PER_CALL", 5)
    monkeypatch.setattr(tok, "TEXTS_PER_CALL", 2)
    backend = _backend(tokenizer_dir)
    whole = [e.ids for e in backend.encode_batch(DOCS, add_special_tokens=False)]
    assert token_ids(backend)(DOCS) == whole
    assert token_counter(tokenizer_dir)(DOCS) == [len(ids) for ids in whole]


def test_counts_do_not_depend_on_batches(tokenizer_dir):
    count = token_counter(tokenizer_dir)
    alone = [count([d])[0] for d in DOCS]
    many = DOCS * (COUNT_BATCH // len(DOCS) + 2)  # over one batch
    assert count(many) == alone * (COUNT_BATCH // len(DOCS) + 2)
    assert count([]) == []


def test_a_folder_without_a_tokenizer_is_an_error(tmp_path):
    with pytest.raises((OSError, ValueError)):
        token_counter(tmp_path)


def test_sources_that_need_no_tokenizer_rule_or_a_revision(tmp_path):
    with pytest.raises(ModelError, match="local"):
        prepare_tokenizer({"source": "local", "path": str(tmp_path)}, tmp_path / "t")
    with pytest.raises(ModelError, match=r"model\.revision"):
        prepare_tokenizer({"source": "hf", "repo_id": "x/y", "revision": ""}, tmp_path / "t")
