# corpusforge: an LLM pretraining corpus, built the Cosmopedia / CC-NET way.
#
#   seed -> prompts -> generation (vLLM)     (mode generate or both)
#   seed documents (WARC/WET, text)          (mode web or both)
#        -> URL filter -> clean (ftfy, OpenCC, PII) -> line corrections
#        -> language ID (fastText) -> paragraph dedup (CC-NET)
#        -> heuristic filters (Gopher, C4, SlimPajama)
#        -> perplexity + buckets (SentencePiece + KenLM) -> dedup (exact + MinHash)
#        -> benchmark decontamination -> web/generated mix -> export -> stats + audit
#
# Each arrow is a rule with file outputs (see rules/), so an interrupted or
# changed run redoes only what it must. The stages that run follow from the
# config (DOC_STAGES in rules/common.smk). Configuration: config/README.md.


include: "rules/common.smk"
include: "rules/seed.smk"  # 1. download and ingest seed rows
include: "rules/model.smk"  # 2. the model (generation, token counts) as an HF folder


if GENERATES:

    include: "rules/prompts.smk"  # 3. format x audience prompts over the extracts
    include: "rules/generate.smk"  # 4. one document per prompt, vLLM


if COLLECTS:

    include: "rules/tokenizer.smk"  # 5. the model's tokenizer alone (token counts)
    include: "rules/collect.smk"  # 5. seed documents join, labelled by origin


if URL_FILTER_RUN:

    include: "rules/url_filter.smk"  # 5a. RefinedWeb URL filter: domain lists, URL words


if CLEAN_RUN:

    include: "rules/clean.smk"  # 5b. ftfy, OpenCC, garbled text, pinyin, PII, flagged words


if LINE_CORRECTIONS_RUN:

    include: "rules/line_corrections.smk"  # 5c. RefinedWeb line-wise corrections


include: "rules/langid.smk"  # 6. fastText language ID: lang, lang_score


if PARAGRAPHS_RUN:

    include: "rules/paragraphs.smk"  # 6a. CC-NET paragraph dedup over the whole build


if QUALITY["enabled"] or SEED_QUALITY:

    include: "rules/quality.smk"  # 6b. model-based quality score (fastText or HF)


if FILTERS_RUN:

    include: "rules/filters.smk"  # 7. Gopher quality/repetition, C4, SlimPajama


include: "rules/perplexity.smk"  # 8. KenLM perplexity, head/middle/tail buckets
include: "rules/dedup.smk"  # 9. exact + MinHash near-duplicate removal


if DECONTAM_BENCHMARKS:

    include: "rules/decontam.smk"  # 10. n-gram overlap with benchmarks


if MODE == "both":

    include: "rules/mix.smk"  # 11. web share of the corpus


include: "rules/export.smk"  # 12. jsonl corpus


if TRAIN_RUN:

    include: "rules/train.smk"  # 12a. tokens, held-out split, mixture, shuffle


include: "rules/report.smk"  # 13. stats, audit, report


rule all:
    default_target: True
    input:
        final_outputs(),
