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
include: "rules/tokenizer.smk"  # the model's tokenizer alone (token counts)


# 4-11. the document stages, in data-flow order (STAGES in rules/common.smk):
# generate, collect, url_filter, clean, line_corrections, langid, index,
# paragraphs, quality, filters, perplexity, dedup, decontam, mix
for stage, _runs in STAGES:

    include: f"rules/{stage}.smk"


include: "rules/topics.smk"  # 3a. topic clusters of the extracts (uses generate's engine)
include: "rules/export.smk"  # 12. jsonl corpus
include: "rules/train.smk"  # 12a. tokens, held-out split, mixture, shuffle
include: "rules/report.smk"  # 13. stats, audit, report


rule all:
    default_target: True
    input:
        final_outputs(),
