# corpusforge: an LLM pretraining corpus, built the Cosmopedia / CC-NET way.
#
#   seed -> prompts -> generation (vLLM) -> language ID (fastText)
#        -> perplexity + buckets (SentencePiece + KenLM) -> dedup (exact + MinHash)
#        -> export -> stats + audit
#
# Each arrow is a rule with file outputs (see rules/), so an interrupted or
# changed run redoes only what it must. Configuration: config/README.md.


include: "rules/common.smk"
include: "rules/seed.smk"  # 1. download and ingest seed rows
include: "rules/prompts.smk"  # 2. format x audience prompts over the extracts
include: "rules/model.smk"  # 3. the generation model, as a local HF folder
include: "rules/generate.smk"  # 4. one document per prompt, vLLM
include: "rules/langid.smk"  # 5. fastText language ID: lang, lang_score
include: "rules/perplexity.smk"  # 6. KenLM perplexity, head/middle/tail buckets
include: "rules/dedup.smk"  # 7. exact + MinHash near-duplicate removal
include: "rules/export.smk"  # 8. jsonl corpus
include: "rules/report.smk"  # 9. stats, audit, report


rule all:
    default_target: True
    input:
        final_outputs(),
