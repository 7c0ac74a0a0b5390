"""Snakemake adapter: stats per stage and the no-record-lost audit (see corpusforge.stats)."""

from corpusforge import stats as st
from corpusforge.io import read_json, write_json
from corpusforge.runtime import logged

with logged(snakemake.log[0]) as log:
    files = snakemake.input
    stages = snakemake.params.doc_stages
    audits = [
        st.audit_seed_counts([read_json(p) for p in files.seed_stats]),
        st.audit_stage(
            st.StageFiles(
                "prompts",
                files.seed_records,
                files.prompts,
                files.prompts_rejected,
                "id",
                "seed_id",
            )
        ),
    ]
    previous, parent = files.prompts, "prompt_id"  # generation: one document per prompt
    for stage in stages:
        docs = files[f"{stage}_docs"]
        rejects = files[f"{stage}_rejected"]
        audits.append(st.audit_stage(st.StageFiles(stage, previous, docs, rejects, "id", parent)))
        previous, parent = docs, "id"  # later stages keep the document id
    audits.append(st.audit_stage(st.StageFiles("export", previous, files.final, [])))
    stat_files = {"seed": files.seed_stats, "prompts": files.prompts_stats}
    stat_files.update({stage: files[f"{stage}_stats"] for stage in stages})
    stat_files["export"] = files.export_stats
    summary = st.summarize(stat_files, audits, files.final)
    for audit in audits:
        log.info("audit %s: %s", audit.stage, audit.as_dict())
    st.check(summary)
    write_json(summary, snakemake.output.summary)
