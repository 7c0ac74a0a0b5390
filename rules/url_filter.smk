"""URL filter (RefinedWeb): domain blocklists, allowlists, URL words. One job per shard.

URL_FILTER and URL_FILTER_RUN (auto: modes web and both) are in common.smk: they
decide whether the stage runs.
"""

# List name -> its local file: its path, or where download_url_list puts it.
# Inputs of the rule, so editing a list reruns it.
URL_LIST_FILES = {
    name: local_file(item["source"], out(f"url_filter/lists/{name}"), "list.txt")
    for name, item in sorted(URL_FILTER["lists"].items())
}
# What download rules fetch, by config key (the manifest records them).
URL_FILTER_DOWNLOADS = {
    f"url_filter.lists.{name}.source": URL_LIST_FILES[name]
    for name, item in URL_FILTER["lists"].items()
    if "path" not in item["source"]
}


rule download_url_list:
    """Fetch a domain or word list (URL or Hugging Face file, sha256-checked when given)."""
    output:
        out("url_filter/lists/{name}/{filename}"),
    log:
        log_path("download_url_list", "{name}/{filename}"),
    benchmark:
        bench_path("download_url_list", "{name}/{filename}")
    retries: 1
    conda:
        "../envs/clean.yaml"
    params:
        source=lambda wc: URL_FILTER["lists"][wc.name]["source"],
        key=lambda wc: f"url_filter.lists.{wc.name}.source",
    script:
        "../scripts/download.py"


rule url_filter:
    """Reject documents whose URL is on a blocklist or has banned words (url_blocked)."""
    input:
        **{f"list_{name}": path for name, path in URL_LIST_FILES.items()},
        docs=upstream("url_filter"),
    output:
        docs=docs_of("url_filter"),
        rejected=rejected("url_filter"),
        stats=stage_stats("url_filter"),
    log:
        log_path("url_filter"),
    benchmark:
        bench_path("url_filter")
    conda:
        "../envs/clean.yaml"
    threads: 1
    params:
        stage="corpusforge.url_filter:UrlFilterStage",
        settings={k: v for k, v in URL_FILTER.items() if k != "enabled"},
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
