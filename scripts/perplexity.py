"""Snakemake adapter for every rule of the perplexity stage (see corpusforge.perplexity).

One script, dispatched on the rule's name:
  download_lm_file    fetch a configured remote file (model or reference text)
  train_lm            train one language's SentencePiece + KenLM models
  describe_lm         describe a ready-made model (and score its reference text)
  perplexity_score    score one shard
  perplexity_cutoffs  gather the cutoffs per language
  perplexity_bucket   bucket one shard: docs, rejected rows, stats
"""

import os


def download_lm_file(smk):
    from corpusforge.fetch import fetch_source

    fetch_source(smk.params.source, smk.output[0])


def train_lm(smk):
    from corpusforge.io import write_json
    from corpusforge.perplexity import train_language_model

    meta = train_language_model(
        smk.wildcards.lang,
        smk.input.reference,
        smk.output.sp,
        smk.output.lm,
        smk.params.training,
        reference_format_name=smk.params.reference_format,
        text_field=smk.params.text_field,
        threads=smk.threads,
        workdir=os.path.dirname(smk.output.lm),
    )
    meta.pop("train_seconds")  # keep the file the same bytes on a rerun
    write_json(meta, smk.output.meta)


def describe_lm(smk):
    from corpusforge.io import write_json
    from corpusforge.perplexity import describe_pretrained

    reference = smk.input.get("reference")
    meta = describe_pretrained(
        smk.wildcards.lang,
        smk.input.sp,
        smk.input.lm,
        reference,
        smk.params.reference_format,
        smk.params.text_field,
    )
    write_json(meta, smk.output.meta)


def _models(smk):
    from corpusforge.perplexity import LanguageModel

    return {
        lang: LanguageModel.load(lang, files["sp"], files["lm"])
        for lang, files in sorted(smk.params.models.items())
    }


def perplexity_score(smk):
    from corpusforge.io import read_parquet, write_parquet
    from corpusforge.perplexity import score_frame

    docs = read_parquet(smk.input.docs)
    write_parquet(score_frame(docs, _models(smk), smk.threads), smk.output.scored)


def _language_columns(path):
    """The columns corpus cutoffs need (lang, prompt_lang where present, perplexity)."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    return [c for c in ("lang", "prompt_lang", "perplexity") if c in names]


def perplexity_cutoffs(smk):
    from corpusforge.io import read_json, read_parquet, write_json
    from corpusforge.perplexity import configured_cutoffs, corpus_perplexities, gather_cutoffs, log

    langs = sorted(smk.params.models)
    cfg = smk.params.cutoffs
    frames = (read_parquet(p, columns=_language_columns(p)) for p in smk.input.get("scored", []))
    corpus = corpus_perplexities(frames, langs) if cfg["source"] == "corpus" else {}
    metas = {lang: read_json(path) for lang, path in zip(langs, smk.input.meta, strict=True)}
    references = {lang: metas[lang]["reference_perplexities"] for lang in langs}
    result = gather_cutoffs(
        corpus,
        references,
        configured_cutoffs(smk.params.models_cfg, cfg.get("values")),
        cfg["source"],
        cfg["percentiles"],
        cfg["min_docs"],
    )
    for lang in langs:
        entry = result["languages"][lang]
        if entry["source"] is None:
            log.warning("%s: no cutoffs (no corpus, reference or config values)", lang)
        entry["model"] = {key: metas[lang].get(key) for key in ("kind", "lm_sha256", "sp_sha256")}
    write_json(result, smk.output.cutoffs)


def perplexity_bucket(smk):
    from corpusforge.io import read_json, read_parquet, write_json, write_parquet
    from corpusforge.perplexity import assign_buckets
    from corpusforge.records import REJECT_SCHEMA

    kept, rejects, stats = assign_buckets(
        read_parquet(smk.input.scored),
        read_json(smk.input.cutoffs),
        smk.params.models,
        smk.params.unscored,
        smk.params.drop_tail,
    )
    write_parquet(kept, smk.output.docs)
    write_parquet(rejects, smk.output.rejected, schema=REJECT_SCHEMA)
    write_json({**stats, "shard": smk.wildcards.shard}, smk.output.stats)


RULES = {
    f.__name__: f
    for f in (
        download_lm_file,
        train_lm,
        describe_lm,
        perplexity_score,
        perplexity_cutoffs,
        perplexity_bucket,
    )
}


def main(smk):
    from corpusforge.runtime import logged

    with logged(smk.log[0]):
        RULES[smk.rule](smk)


if __name__ == "__main__":
    main(snakemake)
