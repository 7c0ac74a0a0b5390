# A minimal workflow around rules/dedup.smk, for tests and benchmarks: documents
# come from results/docs/input/<shard>.parquet instead of an earlier stage. It
# defines the helpers rules/common.smk gives the real workflow.
import os
import sys

RESULTS = config["results"]
SHARDS = [f"{i:04d}" for i in range(config["shards"])]
REPO = config["repo"]
sys.path.insert(0, f"{REPO}/src")
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (f"{REPO}/src", os.environ.get("PYTHONPATH")) if p
)

from corpusforge.schema import root_defaults, with_defaults

# the schema's defaults filled in, as rules/common.smk's validate does
config["dedup"] = with_defaults("dedup", config.get("dedup"))
for _key, _value in root_defaults().items():
    config.setdefault(_key, _value)


wildcard_constraints:
    shard=r"\d{4}",


def canon(value):
    if isinstance(value, dict):
        return {key: canon(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canon(item) for item in value]
    return value


def out(path):
    return f"{RESULTS}/{path}"


def log_path(rule_name, name="{shard}"):
    return out(f"logs/{rule_name}/{name}.log")


def bench_path(rule_name, name="{shard}"):
    return out(f"benchmarks/{rule_name}/{name}.tsv")


def docs_of(stage):
    return out(f"docs/{stage}/{{shard}}.parquet")


def upstream(stage):
    return docs_of("input")


def rejected(stage, name="{shard}"):
    return out(f"rejected/{stage}/{name}.parquet")


def stage_stats(stage, name="{shard}"):
    return out(f"stats/{stage}/{name}.json")


include: f"{REPO}/rules/dedup.smk"


rule all:
    default_target: True
    input:
        expand(docs_of("dedup"), shard=SHARDS),
        expand(rejected("dedup"), shard=SHARDS),
        expand(stage_stats("dedup"), shard=SHARDS),
