"""Line-wise corrections (corpusforge.line_corrections): which lines go, the share bound,
per-document counts, and no overlap with the clean stage's site lines."""

from __future__ import annotations

import pandas as pd
import pytest
from clean_pages import CAFE_MOJIBAKE, CONTACT_PAGE, TRADITIONAL_PAGE
from web_pages import CONTAMINATED, GOOD_EN, GOOD_ZH, NEAR_DUP, WARC_EN

from corpusforge.clean.text import Boilerplate, remove_lines
from corpusforge.line_corrections import LineCorrections, LineCorrectionsStage, settings
from corpusforge.schema import with_defaults

PROSE = (
    "Growing tomatoes on a small balcony is easier than most people think, and it "
    "takes less time than you would expect from reading gardening books.\n"
    "The plants need at least six hours of direct sun and a pot that holds twenty "
    "litres of soil, watered deeply every morning during the summer months.\n"
    "Pinch off the small shoots that grow between the main stem and the leaves, so "
    "that the plant puts its energy into the fruit instead of more leaves.\n"
    "By the end of summer a single plant can give you several kilograms of ripe "
    "tomatoes, more than enough for a family of four to enjoy fresh."
)


@pytest.fixture
def lc() -> LineCorrections:
    return settings(with_defaults("line_corrections"))


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("12 likes", "counter"),
        ("1.2k views", "counter"),
        ("Comments (3)", "counter"),
        ("点赞 35", "counter"),
        ("阅读 1.2万", "counter"),
        ("35人点赞", "counter"),
        ("Share", "interface"),
        ("Sign in", "interface"),
        ("Read more", "interface"),
        ("Sign in | Register", "interface"),
        ("Share on Facebook", "interface"),
        ("Sign in to comment", "interface"),
        ("点赞", "interface"),
        ("分享", "interface"),
        ("登录", "interface"),
        ("阅读全文", "interface"),
        ("返回顶部", "interface"),
        ("点赞 分享 收藏", "interface"),
        ("Home | News | Sports | Contact", "navigation"),
        ("首页 > 新闻 > 国内", "navigation"),
        ("Moreover, the plants grow well in pots.", None),
        ("Next, add the flour and stir.", None),
        ("Share your recipes with friends and family.", None),
        ("The share of homes with solar panels rose to 12 percent.", None),
        ("分享一个简单的做法：先把番茄切成小块，再放进锅里。", None),
    ],
)
def test_line_kinds(lc, line, kind):
    assert lc.kind_of(line) == kind


def test_menu_runs_need_enough_very_short_lines(lc):
    menu = ["Home", "About us", "Blog", "Contact", "", "A real sentence that is long enough."]
    assert lc.kinds_of(menu) == ["interface", *["navigation"] * 3, None, None]
    # three short lines (a short list) are no menu; a full stop ends a run
    assert lc.kinds_of(["Apples", "Pears", "Plums", "Done."]) == [None] * 4
    cjk = ["首页", "新闻", "体育", "联系我们", "这是一段足够长的正文内容。"]
    assert lc.kinds_of(cjk) == ["interface", "navigation", "navigation", "navigation", None]


def test_off_kinds_stay_and_refinedweb_extras(lc):
    off = settings(with_defaults("line_corrections", {"kinds": ["counter"]}))
    assert off.kind_of("Share") is None and off.kind_of("12 likes") == "counter"
    full = settings(
        with_defaults(
            "line_corrections",
            {
                "kinds": [
                    "counter",
                    "interface",
                    "navigation",
                    "numeric",
                    "uppercase",
                    "single_word",
                ]
            },
        )
    )
    assert full.kind_of("2024 - 12 - 01") == "numeric"
    assert full.kind_of("BREAKING NEWS TODAY") == "uppercase"
    assert full.kind_of("Introduction") == "single_word"
    assert lc.kind_of("BREAKING NEWS TODAY") is None and lc.kind_of("Introduction") is None


def test_correct_counts_lines_and_characters(lc):
    text = PROSE + "\n12 likes\nShare"
    new, removed, chars, total = lc.correct(text)
    assert new == PROSE
    assert dict(removed) == {"counter": 1, "interface": 1}
    assert chars == len("12 likes") + len("Share")
    assert total == len(text) - text.count("\n")


def test_share_bound_rejects_and_counts_per_document(lc):
    small = PROSE + "\n12 likes"  # well under 5% of the characters
    heavy = "Share\nSign in\nRead more\n3 comments\nA short note on tomatoes and sun."
    docs = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "seed_id": ["a", "b", "c", "d"],
            "origin": ["web", "web", "generated", "web"],
            "text": [small, heavy, heavy, "Share\n点赞"],
        }
    )
    kept, rejects, stats = LineCorrectionsStage(with_defaults("line_corrections"))(docs)
    assert kept["id"].tolist() == ["a", "c"]
    assert kept.set_index("id").loc["a", "text"] == PROSE
    assert kept.set_index("id").loc["a", "corrected_lines"] == 1
    assert kept.set_index("id").loc["a", "corrected_chars"] == len("12 likes")
    assert kept.set_index("id").loc["c", "text"] == heavy  # generated: untouched
    assert rejects["id"].tolist() == ["b", "d"]
    assert set(rejects["reason"]) == {"line_corrections"}
    detail = rejects.set_index("id").loc["b", "detail"]
    assert "removed 4 lines" in detail and "> 5.0%" in detail and "interface 3" in detail
    assert rejects.set_index("id").loc["b", "text"] == heavy  # the text as it came in
    assert stats["not_corrected"] == 1 and stats["documents_corrected"] == 1
    assert stats["corrected_lines_by_kind"] == {"counter": 1}
    # a looser bound keeps the heavy page, corrected
    loose = LineCorrectionsStage(with_defaults("line_corrections", {"max_removed_share": 0.9}))
    kept, rejects, _ = loose(docs)
    assert "b" in set(kept["id"]) and rejects["id"].tolist() == ["d"]
    assert kept.set_index("id").loc["b", "text"] == "A short note on tomatoes and sun."


def test_crafted_pages_of_other_tests_are_untouched(lc):
    """The pages other workflow tests keep must not lose lines here."""
    pages = [
        *GOOD_EN.values(),
        *GOOD_ZH.values(),
        NEAR_DUP,
        CONTAMINATED,
        "\n".join(WARC_EN),
        CAFE_MOJIBAKE,
        TRADITIONAL_PAGE,
        CONTACT_PAGE,
    ]
    for page in pages:
        assert lc.correct(page)[2] / max(1, len(page)) <= 0.05, page[:60]


def test_clean_site_lines_and_corrections_do_not_overlap(lc):
    """clean removes site sentences, this stage widgets; both drop lines alike."""
    site = Boilerplate(200)
    for line in ("We use cookies to improve your experience.", "© 2024 Example Ltd.", "版权所有"):
        assert site.kind_of(line) is not None and lc.kind_of(line) is None
    for line in ("12 likes", "Share", "Read more", "返回顶部"):
        assert lc.kind_of(line) is not None and site.kind_of(line) is None
    text = "a\nb\n\n\n\nc"
    assert remove_lines(text, text.split("\n"), [None, "x", None, None, None, None]) == (
        "a\n\nc",
        {"x": 1},
        1,
    )


# Lines for the pre-check test: interface words and near misses, menus, CJK, cases.
MIXED_LINES = [
    "12 likes",
    "1.2k views",
    "Comments (3)",
    "点赞 35",
    "阅读 1.2万",
    "35人点赞",
    "Share",
    "Sign in | Register",
    "Share on Facebook",
    "Sign in to comment",
    "Sign in to comment.",
    "点赞 分享 收藏",
    "返回顶部",
    "Home | News | Sports | Contact",
    "首页 > 新闻 > 国内",
    "Moreover, the plants grow well in pots.",
    "Read more",
    "Continue reading »",
    "The full story, in six parts: read more",
    "… 查看更多",
    "SHARE THIS",
    "LOG IN",
    "Home",
    "News",
    "Sports",
    "关于我们",
    "联系",
    "A",
    "OK",
    "1234",
    "12-34 56",
    "$ 12.50",
    "WARNING: KEEP OUT OF REACH",
    "Title Case Heading",
    "word",
    "x",
    "qq空间 微博 微信",
    "分享一个简单的做法：先把番茄切成小块，再放进锅里。",
    "Twitter · Facebook · Reddit",
    "Login with Google to continue",
    "subscribe now for updates",
    "e-mail | print | top",
    "views_count 12",
    "Ｓｈａｒｅ",
    "Ǳ title",
    "register",
    "prev / next / more",
]


def test_pre_checks_give_the_reference_kinds():
    """The fast kind tests (cheap ones first) and the reference order agree on every
    line and document, with RefinedWeb's extra kinds on or off."""
    import random

    rng = random.Random(3)
    pool = [*MIXED_LINES, *PROSE.split("\n"), *WARC_EN, *next(iter(GOOD_ZH.values())).split("\n")]
    texts = [
        rng.choice(["\n", "\n\n", "\n \n"]).join(rng.choices(pool, k=rng.randint(1, 12)))
        for _ in range(300)
    ]
    all_kinds = {"kinds": ["counter", "interface", "navigation", "numeric", "uppercase",
                           "single_word"]}  # fmt: skip
    for cfg in ({}, all_kinds, {"kinds": ["navigation"], "max_line_words": 3}):
        full = with_defaults("line_corrections", cfg)
        ref, new = settings(full, fast=False), settings(full, fast=True)
        for line in pool:
            assert new.kind_of(line.strip() or "x") == ref.kind_of(line.strip() or "x"), line
        for text in texts:
            assert new.correct(text) == ref.correct(text)
        frame = pd.DataFrame({"id": range(len(texts)), "origin": "web", "text": texts})
        ref_out = LineCorrectionsStage(full, fast=False)(frame)
        new_out = LineCorrectionsStage(full, fast=True)(frame)
        assert ref_out[0].equals(new_out[0]) and ref_out[1].equals(new_out[1])
        assert ref_out[2] == new_out[2]
