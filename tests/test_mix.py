"""Mix stage: recorded proportions and a target web share."""

from __future__ import annotations

import jsonschema
import pandas as pd
import pytest

from corpusforge.mix import apply_mix
from corpusforge.schema import with_defaults


def mix(cfg: dict | None = None) -> dict:
    """The ``mix`` section as the workflow gives it: the schema's defaults filled in."""
    return with_defaults("mix", cfg)


def docs(n_web=30, n_gen=10, web_tokens=100, gen_tokens=100):
    rows = [
        {"id": f"w{i:03d}", "seed_id": f"w{i:03d}", "origin": "web", "text": "x",
         "completion_tokens": web_tokens}
        for i in range(n_web)
    ] + [
        {"id": f"g{i:03d}", "seed_id": f"s{i:03d}", "origin": "generated", "text": "y",
         "completion_tokens": gen_tokens}
        for i in range(n_gen)
    ]  # fmt: skip
    return pd.DataFrame(rows).sample(frac=1, random_state=1).reset_index(drop=True)


def test_no_target_keeps_everything_and_records_shares():
    kept, rejects, stats = apply_mix(docs(), mix())
    assert len(kept) == 40 and rejects.empty
    assert stats["by_origin"]["web"]["share_tokens"] == 0.75
    assert stats["before"] == stats["by_origin"] and stats["web_share"] is None


@pytest.mark.parametrize("unit", ["tokens", "documents"])
def test_web_over_its_share_is_downsampled(unit):
    kept, rejects, stats = apply_mix(docs(), mix({"web_share": 0.5, "unit": unit}))
    assert (kept["origin"] == "web").sum() == 10 and (kept["origin"] == "generated").sum() == 10
    assert len(rejects) == 20 and set(rejects["reason"]) == {"mix_downsampled"}
    assert set(rejects["stage"]) == {"mix"} and rejects["id"].str.startswith("w").all()
    assert sorted(kept["id"].tolist() + rejects["id"].tolist()) == sorted(docs()["id"])
    assert stats["by_origin"]["web"]["share_documents"] == 0.5
    assert stats["before"]["web"]["documents"] == 30


def test_generated_over_its_share_is_downsampled():
    kept, rejects, stats = apply_mix(docs(n_web=10, n_gen=30), mix({"web_share": 0.25}))
    # web 1000 tokens at 25% allows 3000 generated tokens: all 30 kept exactly
    assert rejects.empty
    kept, rejects, stats = apply_mix(docs(n_web=10, n_gen=30), mix({"web_share": 0.5}))
    assert (kept["origin"] == "generated").sum() == 10 and len(rejects) == 20
    assert stats["by_origin"]["web"]["share_tokens"] == 0.5


def test_choice_is_seeded_and_independent_of_row_order():
    a = apply_mix(docs(), mix({"web_share": 0.4}))[0]["id"].tolist()
    shuffled = docs().sample(frac=1, random_state=7).reset_index(drop=True)
    assert apply_mix(shuffled, mix({"web_share": 0.4}))[0]["id"].tolist() == a
    assert apply_mix(docs(), mix({"web_share": 0.4, "seed": 5}))[0]["id"].tolist() != a


def test_one_origin_only_is_kept_whole():
    kept, rejects, stats = apply_mix(docs(n_gen=0), mix({"web_share": 0.5}))
    assert len(kept) == 30 and rejects.empty and stats["unreachable"] is True


def test_bad_settings_are_refused_by_the_schema():
    for bad in ({"web_share": 1.5}, {"web_share": 0}, {"unit": "bytes"}, {"share": 0.5}):
        with pytest.raises(jsonschema.ValidationError):
            mix(bad)
