"""Snakemake adapter: stats per stage and the no-record-lost audit (see corpusforge.stats)."""

from corpusforge import stats as st
from corpusforge.io import write_json
from corpusforge.runtime import logged

with logged(snakemake.log[0]) as log:
    i = snakemake.input
    audits = [
        st.audit_seed_counts([st.read_json(p) for p in i.seed_stats]),
        st.audit_stage(
            st.StageFiles("prompts", i.seed_records, i.prompts, i.prompts_rejected, "id", "seed_id")
        ),
        st.audit_stage(
            st.StageFiles(
                "generate", i.prompts, i.generated, i.generate_rejected, "id", "prompt_id"
            )
        ),
        st.audit_stage(st.StageFiles("export", i.generated, i.final, [], "id", "id")),
    ]
    summary = st.summarize(
        {
            "seed": i.seed_stats,
            "prompts": i.prompts_stats,
            "generate": i.generate_stats,
            "export": i.export_stats,
        },
        audits,
        i.final,
    )
    for audit in audits:
        log.info("audit %s: %s", audit.stage, audit.as_dict())
    st.check(summary)
    write_json(summary, snakemake.output.summary)
