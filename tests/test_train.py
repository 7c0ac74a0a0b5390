"""Trainer-ready output: token files read back with Megatron-LM's reader and by
datatrove's documented layout, the held-out split, the mixture, the errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from corpusforge.train import TrainError
from corpusforge.train.formats import TokenWriter, dtype_for_vocab, short_count
from corpusforge.train.mixture import build_mixture, check_groups
from corpusforge.train.settings import tokenizer_source, train_outputs
from corpusforge.train.tokenize import tokenize_file

WORDS = [
    *["the", "a", "tide", "moon", "sea", "wave", "river", "stone", "light", "cloud"],
    *["潮", "汐", "月", "海"],
]
TRAIN = {
    "bos": False,
    "eos": True,
    "bos_token": None,
    "eos_token": None,
    "dtype": "auto",
    "format": "megatron",
    "layout": "single",
    "total_tokens": None,
    "max_epochs": 4,
    "valid_fraction": 0.2,
    "seed": 0,
}


def indexed_dataset(prefix):
    """Megatron-LM's own reader (megatron-core), as a trainer opens the files."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    return IndexedDataset(str(prefix))


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory) -> Path:
    """A small byte-level BPE tokenizer with an EOS token, as a Hugging Face folder."""
    folder = tmp_path_factory.mktemp("tok")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    rng = np.random.default_rng(0)
    tokenizer.train_from_iterator([" ".join(rng.choice(WORDS, 30)) for _ in range(200)], trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {"eos_token": "<|endoftext|>", "bos_token": "<s>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def write_docs(path: Path, n: int, origin="generated", source="default", seed=0) -> list[dict]:
    rng = np.random.default_rng(seed)
    docs = [
        {
            "id": f"{path.stem}-{origin}-{i:05d}",
            "text": " ".join(rng.choice(WORDS, int(rng.integers(1, 40)))),
            "origin": origin,
            "source": source,
        }
        for i in range(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    return docs


def encode(tok_dir, texts, eos=True):
    tokenizer = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    end = [tokenizer.token_to_id("<|endoftext|>")] if eos else []
    return [tokenizer.encode(t, add_special_tokens=False).ids + end for t in texts]


def tokenized(tmp_path, tok_dir, parts):
    """Tokenize jsonl files: parts is (lang/bucket, n docs, origin) per file."""
    files, docs = [], {}
    for i, (lang_bucket, n, origin) in enumerate(parts):
        jsonl = tmp_path / "final" / lang_bucket / f"corpus-{i:04d}.jsonl"
        rows = write_docs(jsonl, n, origin, seed=i)
        prefix = tmp_path / "tokens" / lang_bucket / f"corpus-{i:04d}"
        tokenize_file(jsonl, tok_dir, TRAIN, prefix)
        files.append((lang_bucket, str(prefix)))
        docs.update({d["id"]: d for d in rows})
    return files, docs


def test_tokens_equal_the_tokenizers_encoding_read_by_megatron(tmp_path, tok_dir):
    jsonl = tmp_path / "corpus-0000.jsonl"
    docs = write_docs(jsonl, 50)
    stats = tokenize_file(jsonl, tok_dir, TRAIN, tmp_path / "t")
    expected = encode(tok_dir, [d["text"] for d in docs])
    assert stats["documents"] == 50 and stats["dtype"] == "uint16"
    assert stats["tokens"] == sum(map(len, expected))
    dataset = indexed_dataset(tmp_path / "t")
    assert len(dataset) == 50 and dataset.index.dtype == np.uint16
    assert [dataset[i].tolist() for i in range(50)] == expected
    assert dataset.document_indices.tolist() == list(range(51))
    listed = [json.loads(x)["id"] for x in (tmp_path / "t.docs.jsonl").read_text().splitlines()]
    assert listed == [d["id"] for d in docs]


def test_bos_and_a_named_eos(tmp_path, tok_dir):
    jsonl = tmp_path / "c.jsonl"
    docs = write_docs(jsonl, 3)
    cfg = {**TRAIN, "bos": True, "eos_token": "<s>"}
    tokenize_file(jsonl, tok_dir, cfg, tmp_path / "t")
    dataset = indexed_dataset(tmp_path / "t")
    bos = Tokenizer.from_file(str(tok_dir / "tokenizer.json")).token_to_id("<s>")
    first = dataset[0].tolist()
    assert first[0] == bos and first[-1] == bos
    assert first[1:-1] == encode(tok_dir, [docs[0]["text"]], eos=False)[0]


def test_uint32_is_megatrons_int32_and_datatroves_four_bytes(tmp_path):
    tokens = [np.array([70_000, 1, 65_536]), np.array([5])]
    for fmt in ("megatron", "datatrove"):
        with TokenWriter(fmt, tmp_path / fmt, "uint32", "tok") as writer:
            for t in tokens:
                writer.add(t)
    dataset = indexed_dataset(tmp_path / "megatron")
    assert dataset.index.dtype == np.int32
    assert [dataset[i].tolist() for i in range(2)] == [t.tolist() for t in tokens]
    ds = tmp_path / "datatrove/datatrove.ds"
    assert datatrove_documents(ds, 4) == [t.tolist() for t in tokens]
    assert Path(f"{ds}.metadata").read_text().splitlines()[0] == "tok|4"


def datatrove_documents(path, token_size=2):
    """datatrove's own reader of token files (its DocumentTokenizerMerger's): the
    documents of a .ds file by its .ds.index."""
    from datatrove.pipeline.tokens.merger import get_data_reader, load_doc_ends

    ends = load_doc_ends(open(f"{path}.index", "rb"))  # noqa: SIM115 - it closes the file
    dtype = "<u2" if token_size == 2 else "<u4"
    reader = get_data_reader(open(path, "rb"), ends, token_size)  # noqa: SIM115
    return [np.frombuffer(data, dtype=dtype).tolist() for data in reader]


def test_datatrove_files_as_datatrove_and_nanotron_read_them(tmp_path):
    """datatrove's layout: tokens, uint64 document ends, metadata `name|token size`;
    read by datatrove's merger reader and by DatatroveFileDataset (nanotron's)."""
    from datatrove.utils.dataset import DatatroveFileDataset

    tokens = [[3, 4, 0], [7, 0], [9, 9, 9, 0], [5, 0]]
    with TokenWriter("datatrove", tmp_path / "x", "uint16", "SmolLM2") as writer:
        for t in tokens:
            writer.add(np.array(t))
    assert datatrove_documents(tmp_path / "x/x.ds") == tokens
    lines = (tmp_path / "x/x.ds.metadata").read_text().split("\n")
    assert lines == ["SmolLM2|2", "11", "11 T"]
    assert short_count(1_234_567) == "1.23 MT"
    windows = DatatroveFileDataset(str(tmp_path / "x/x.ds"), seq_len=4, return_positions=True)
    assert len(windows) == 2  # 11 tokens: two windows of seq_len + 1
    assert windows[0]["input_ids"].tolist() == [3, 4, 0, 7, 0]
    # positions restart where the index says a document ends
    assert windows[0]["positions"].tolist() == [0, 1, 2, 0, 1]
    assert windows[1]["positions"].tolist() == [0, 1, 2, 3, 0]


def test_a_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError), TokenWriter("megatron", tmp_path / "x", "uint16") as writer:
        writer.add(np.array([1, 2]))
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_dtype_from_the_vocabulary():
    assert dtype_for_vocab(49_152) == "uint16" and dtype_for_vocab(65_536) == "uint16"
    assert dtype_for_vocab(65_537) == "uint32" and dtype_for_vocab(100, "uint32") == "uint32"
    with pytest.raises(ValueError, match=r"train.dtype: uint16 .* 151,000 ids"):
        dtype_for_vocab(151_000, "uint16")


def test_split_is_disjoint_and_the_mixture_within_one_document(tmp_path, tok_dir):
    files, docs = tokenized(
        tmp_path,
        tok_dir,
        [("en/head", 300, "generated"), ("en/middle", 200, "web"), ("zh/head", 250, "web")],
    )
    groups = [
        ["en/head", {"weight": 0.2}],
        ["en/middle", {"weight": 0.6}],
        ["zh/*", {"weight": 0.2}],
    ]
    cfg = {**TRAIN, "total_tokens": 8000}
    mixture = build_mixture(files, cfg, groups, tmp_path / "out", "tok")
    for g in mixture["groups"]:
        target, chosen = g["target_tokens"], g["chosen"]["tokens"]
        assert 0 <= chosen - target < g["max_document_tokens"], g
        assert (
            g["valid"]["documents"] + g["train_available"]["documents"]
            == (g["available"]["documents"])
        )
    # en/middle repeats (4,800 tokens of ~3,400), the others are downsampled
    assert [g["epochs"] > 1 for g in mixture["groups"]] == [False, True, False]
    train = indexed_dataset(tmp_path / "out/train")
    valid = indexed_dataset(tmp_path / "out/valid")
    assert len(train) == sum(g["chosen"]["documents"] for g in mixture["groups"])
    assert train.sequence_lengths.sum() == sum(g["chosen"]["tokens"] for g in mixture["groups"])
    assert len(valid) == sum(g["valid"]["documents"] for g in mixture["groups"]) > 0
    # every document's tokens are one of the corpus's documents: find which by content
    by_tokens = {}
    for doc_id, doc in docs.items():
        by_tokens.setdefault(tuple(encode(tok_dir, [doc["text"]])[0]), set()).add(doc_id)
    train_ids = set().union(*(by_tokens[tuple(train[i].tolist())] for i in range(len(train))))
    valid_ids = set().union(*(by_tokens[tuple(valid[i].tolist())] for i in range(len(valid))))
    unique = {next(iter(ids_)) for ids_ in by_tokens.values() if len(ids_) == 1}
    assert len(unique) > 600  # documents whose tokens are unique are in one split only
    assert not unique & train_ids & valid_ids
    # shuffled across files: the first hundred training documents come from every file
    first = [next(iter(by_tokens[tuple(train[i].tolist())])) for i in range(100)]
    assert {docs[i]["origin"] for i in first} == {"generated", "web"}
    assert mixture["megatron_data_path"] == str(tmp_path / "out/train")


def test_epochs_repeat_and_downsample_and_two_runs_give_the_same_bytes(tmp_path, tok_dir):
    parts = [("en/head", 120, "generated"), ("en/middle", 0, "web"), ("en/tail", 80, "web")]
    files, docs = tokenized(tmp_path, tok_dir, parts)  # an empty file between two others
    groups = [["generated", {"epochs": 2}], ["en/*", {"epochs": 0.5}]]
    outputs = []
    for run in ("a", "b"):
        mixture = build_mixture(files, TRAIN, groups, tmp_path / run, "tok")
        files_ = {p.name: p.read_bytes() for p in sorted((tmp_path / run).iterdir())}
        files_["mixture.json"] = files_["mixture.json"].replace(str(tmp_path / run).encode(), b"")
        outputs.append(files_)
    assert outputs[0] == outputs[1]
    gen, web = mixture["groups"]
    assert gen["chosen"]["documents"] == 2 * gen["train_available"]["documents"]
    assert gen["chosen"]["distinct_documents"] == gen["train_available"]["documents"]
    assert gen["chosen"]["tokens"] == 2 * gen["train_available"]["tokens"]
    half = web["train_available"]["tokens"] / 2
    assert 0 <= web["chosen"]["tokens"] - half < web["max_document_tokens"]
    assert web["available"]["documents"] == 80  # en/* took only what `generated` left
    # every document read back is one of the corpus's, whole
    encoded = {tuple(e) for e in encode(tok_dir, [d["text"] for d in docs.values()])}
    train = indexed_dataset(tmp_path / "b/train")
    assert all(tuple(train[i].tolist()) in encoded for i in range(len(train)))


def test_one_dataset_per_group_and_the_megatron_weights(tmp_path, tok_dir):
    files, _ = tokenized(
        tmp_path, tok_dir, [("en/head", 100, "generated"), ("zh/head", 100, "web")]
    )
    groups = [["en/*", {"weight": 0.75}], ["zh/*", {"weight": 0.25}]]
    cfg = {**TRAIN, "layout": "per_group", "total_tokens": 2000}
    mixture = build_mixture(files, cfg, groups, tmp_path / "out", "tok")
    names = [g["dataset"] for g in mixture["groups"]]
    assert names == ["train-00-en_all", "train-01-zh_all"]
    weights = mixture["megatron_data_path"].split()[::2]
    assert [round(float(w), 2) for w in weights] == [0.75, 0.25]
    assert (
        len(indexed_dataset(tmp_path / "out" / names[0]))
        == mixture["groups"][0]["chosen"]["documents"]
    )
    expected = train_outputs(cfg, groups, str(tmp_path / "out"))
    assert all(Path(p).is_file() for p in expected)


def test_datatrove_format_from_the_mixture(tmp_path, tok_dir):
    files, docs = tokenized(tmp_path, tok_dir, [("en/head", 60, "generated")])
    cfg = {**TRAIN, "format": "datatrove", "valid_fraction": 0.0}
    mixture = build_mixture(files, cfg, [["*/*", {"epochs": 1}]], tmp_path / "out", "tok")
    assert mixture["datasets"]["train"]["files"][0] == "train/train.ds"
    assert mixture["nanotron_dataset_folder"] == str(tmp_path / "out/train")
    documents = datatrove_documents(tmp_path / "out/train/train.ds")
    assert sum(map(len, documents)) == mixture["groups"][0]["chosen"]["tokens"]
    expected = encode(tok_dir, [d["text"] for d in docs.values()])
    assert sorted(documents) == sorted(expected) and documents != expected  # shuffled


@pytest.mark.parametrize(
    ("groups", "total", "message"),
    [
        ([["fr/*", {"epochs": 1}]], None, r"train.groups.fr/\*: matches no <lang>/<bucket>"),
        ([["books", {"epochs": 1}]], None, "train.groups.books: matches no origin or seed"),
        ([["en/*", {"epochs": 9}]], None, "train.groups.en/\\*: epochs 9 is over train.max_epochs"),
        (
            [["en/*", {"weight": 0.5}], ["zh/*", {"weight": 0.3}]],
            100,
            r"train.groups: the weights add up to 0.8, not 1 \(en/\* 0.5, zh/\* 0.3\)",
        ),
        ([["en/*", {"weight": 1.0}]], None, "train.total_tokens: groups en/\\* have a weight"),
        ([["en/*", {"epochs": 1}]], 100, "train.total_tokens: set, but no group has a weight"),
    ],
)
def test_bad_groups_are_refused_naming_the_key(groups, total, message):
    with pytest.raises(TrainError, match=message):
        check_groups(groups, total, 4, ["en/head", "zh/head"], ["generated", "default"])


def test_a_group_asked_too_many_epochs_names_its_size(tmp_path, tok_dir):
    files, _ = tokenized(tmp_path, tok_dir, [("en/head", 20, "generated")])
    cfg = {**TRAIN, "total_tokens": 100_000, "valid_fraction": 0.0}
    with pytest.raises(TrainError, match=r"train.groups.en/head: .* epochs asked of a group of 20"):
        build_mixture(files, cfg, [["en/head", {"weight": 1.0}]], tmp_path / "out", "tok")


def test_a_tokenizer_that_cannot_be_loaded_or_does_not_fit(tmp_path, tok_dir):
    out = lambda p: f"results/{p}"  # noqa: E731
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/tokenizer.json").write_text("{not json")
    with pytest.raises(TrainError, match=r"train.tokenizer.path: cannot load a tokenizer"):
        tokenizer_source({"path": str(tmp_path / "empty")}, {}, "m", out)
    with pytest.raises(TrainError, match=r"train.tokenizer.path: .* is not a tokenizer folder"):
        tokenizer_source({"path": str(tmp_path / "nowhere")}, {}, "m", out)
    big = tmp_path / "big"
    big.mkdir()
    vocab = {f"w{i}": i for i in range(70_000)} | {"[UNK]": 70_000}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.save(str(big / "tokenizer.json"))
    with pytest.raises(TrainError, match=r"train.dtype: uint16 .* 70,001 ids"):
        tokenizer_source({"path": str(big)}, {}, "m", out, "uint16")
    assert tokenizer_source({"path": str(big)}, {}, "m", out) == (str(big), "big")
    jsonl = tmp_path / "c.jsonl"
    write_docs(jsonl, 2)
    with pytest.raises(TrainError, match=r"train.eos_token: the tokenizer .* names no eos_token"):
        tokenize_file(jsonl, big, TRAIN, tmp_path / "t")
    with pytest.raises(TrainError, match=r"train.eos_token: '</s>' is not a token"):
        tokenize_file(jsonl, tok_dir, {**TRAIN, "eos_token": "</s>"}, tmp_path / "t")


def test_summary_card_and_figure_show_the_mixture(tmp_path, tok_dir):
    from corpusforge.report.mixture import mixture_lines
    from corpusforge.report.plots import draw_plot
    from corpusforge.train.mixture import mixture_summary

    files, _ = tokenized(tmp_path, tok_dir, [("en/head", 50, "generated"), ("zh/head", 30, "web")])
    groups = [["en/*", {"epochs": 2}], ["zh/*", {"epochs": 0.5}]]
    mixture = build_mixture(files, TRAIN, groups, tmp_path / "out", "tok")
    summary = {"train": mixture_summary(mixture)}
    assert "datasets" in summary["train"] and "files" not in summary["train"]["datasets"]["train"]
    card = "\n".join(mixture_lines(summary))
    en = mixture["groups"][0]
    assert "## Training data" in card and f"--data-path {tmp_path / 'out/train'}" in card
    assert f"| en/* | {en['train_available']['documents']} / " in card
    draw_plot("mixture", summary, None, tmp_path / "mixture.png")
    assert (tmp_path / "mixture.png").read_bytes()[:4] == b"\x89PNG"


def test_a_pinned_hugging_face_tokenizer_is_fetched_and_used(tmp_path, tok_dir):
    """train.tokenizer.hf: rule train_tokenizer's call against a fake Hub on 127.0.0.1."""
    import os
    import subprocess
    import sys

    from test_generate import HF_COMMIT, HF_REPO, FakeHub

    files = {
        name: (tok_dir / name).read_bytes() for name in ("tokenizer.json", "tokenizer_config.json")
    }
    hub = FakeHub(files)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("HF_HUB_OFFLINE", None)
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf-home"))
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    folder = tmp_path / "results/tokenizers/train/acme--tiny-model"
    assert tokenizer_source(
        {"hf": {"repo_id": HF_REPO, "revision": HF_COMMIT}},
        {},
        "m",
        lambda p: f"{tmp_path}/results/{p}",
    ) == (str(folder), HF_REPO)
    code = (
        "import sys; from pathlib import Path; import corpusforge.tokenizer as t; "
        "t.tokenizer_from_hf(sys.argv[1], sys.argv[2], Path(sys.argv[3]))"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, HF_REPO, HF_COMMIT, str(folder)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        hub.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    jsonl = tmp_path / "c.jsonl"
    docs = write_docs(jsonl, 5)
    tokenize_file(jsonl, folder, TRAIN, tmp_path / "t")
    dataset = indexed_dataset(tmp_path / "t")
    assert [dataset[i].tolist() for i in range(5)] == encode(tok_dir, [d["text"] for d in docs])
