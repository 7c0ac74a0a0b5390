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
# changed run redoes only what it must. Every rules file is included; which
# stages run follows from the config through one list, DOC_STAGES in
# rules/common.smk: a rule is in the build only when a stage of that list (or
# the report) asks for its output. Configuration: config/README.md; adding a
# stage: docs/adding-a-stage.md.


include: "rules/common.smk"  # the stage list (DOC_STAGES) and input functions
include: "rules/seed.smk"  # 1. download and ingest seed rows
include: "rules/model.smk"  # 2. the model (generation, token counts) as an HF folder
include: "rules/prompts.smk"  # 3. format x audience prompts over the extracts
include: "rules/generate.smk"  # 4. one document per prompt, vLLM
include: "rules/tokenizer.smk"  # 5. the model's tokenizer alone (token counts)
include: "rules/collect.smk"  # 5. seed documents join, labelled by origin
include: "rules/url_filter.smk"  # 5a. RefinedWeb URL filter: domain lists, URL words
include: "rules/clean.smk"  # 5b. ftfy, OpenCC, garbled text, pinyin, PII, flagged words
include: "rules/line_corrections.smk"  # 5c. RefinedWeb line-wise corrections
include: "rules/langid.smk"  # 6. fastText language ID: lang, lang_score
include: "rules/paragraphs.smk"  # 6a. CC-NET paragraph dedup over the whole build
include: "rules/quality.smk"  # 6b. model-based quality score (fastText or HF)
include: "rules/filters.smk"  # 7. Gopher quality/repetition, C4, SlimPajama
include: "rules/perplexity.smk"  # 8. KenLM perplexity, head/middle/tail buckets
include: "rules/dedup.smk"  # 9. exact + MinHash near-duplicate removal
include: "rules/decontam.smk"  # 10. n-gram overlap with benchmarks
include: "rules/mix.smk"  # 11. web share of the corpus
include: "rules/export.smk"  # 12. jsonl corpus
include: "rules/report.smk"  # 13. stats, audit, report


rule all:
    default_target: True
    input:
        final_outputs(),
