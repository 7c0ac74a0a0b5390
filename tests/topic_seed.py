"""A seed of mixed extracts on four clear topics (two English, two Chinese), written
for the topics tests: each extract is a few sentences drawn (seeded) from its
topic's sentences, so a topic's extracts share its vocabulary and differ from the
other topics'. The topics are of uneven size, as in a real seed."""

from __future__ import annotations

import json
import random
from pathlib import Path

SENTENCES = {
    "bread": (
        "en",
        [
            "Knead the bread dough for ten minutes until it feels smooth and elastic.",
            "The yeast ferments the sugars in the flour and the dough rises slowly.",
            "A sourdough starter is a mix of flour and water full of wild yeast.",
            "Bake the loaf in a hot oven until the crust is deep brown.",
            "Let the shaped dough proof in a floured basket before baking the bread.",
            "Whole wheat flour makes a denser loaf than white bread flour.",
            "Steam in the oven during the first minutes helps the bread crust crackle.",
            "Tap the bottom of the loaf: a hollow sound means the bread is baked.",
            "Salt slows the yeast and tightens the gluten in the dough.",
            "Cool the bread on a rack before slicing so the crumb can set.",
        ],
    ),
    "planets": (
        "en",
        [
            "Jupiter is the largest planet in the solar system and has dozens of moons.",
            "Mars looks red because iron oxide dust covers its surface.",
            "The planets orbit the Sun on nearly flat paths in the same direction.",
            "Saturn's rings are made of ice and rock circling the planet.",
            "Venus has a thick carbon dioxide atmosphere that traps heat.",
            "A telescope shows the phases of Venus and the moons of Jupiter.",
            "Mercury is the planet closest to the Sun and has almost no atmosphere.",
            "Astronomers measure planet orbits with Kepler's laws of motion.",
            "Neptune is an ice giant far from the Sun with strong winds.",
            "The Earth is the third planet from the Sun in the solar system.",
        ],
    ),
    "football": (
        "zh",
        [
            "足球比赛每队有十一名球员在场上比赛。",
            "守门员可以在禁区内用手接球。",
            "越位规则规定进攻球员不能比倒数第二名防守球员更靠近球门。",
            "点球在禁区内犯规后判罚，距离球门十二码。",
            "一场足球比赛分为上下两个半场，每个半场四十五分钟。",
            "前锋的任务是射门得分，后卫负责防守。",
            "裁判出示黄牌警告犯规的球员，红牌则罚下场。",
            "世界杯足球赛每四年举办一次。",
            "角球是在球从底线出界后由进攻方踢出。",
            "中场球员在进攻和防守之间传球组织比赛。",
        ],
    ),
    "tea": (
        "zh",
        [
            "中国茶按照发酵程度分为绿茶、白茶、乌龙茶和红茶。",
            "龙井茶是杭州西湖一带出产的著名绿茶。",
            "泡绿茶的水温最好在八十度左右，不要用沸水。",
            "普洱茶产自云南，存放多年后味道更加醇厚。",
            "乌龙茶是半发酵茶，香气浓郁，回味甘甜。",
            "功夫茶讲究用小茶壶和小茶杯慢慢品茶。",
            "茶叶应该密封保存，避免受潮和串味。",
            "红茶是全发酵茶，茶汤颜色红亮。",
            "白茶的制作工艺简单，只经过萎凋和干燥。",
            "喝茶之前先用热水温杯，可以让茶香更好地散发。",
        ],
    ),
}
# Uneven on purpose: bread dominates the seed.
SIZES = {"bread": 14, "planets": 8, "football": 8, "tea": 6}


def topic_rows(sizes: dict[str, int] | None = None, seed: int = 0) -> list[dict]:
    """Seed rows (id, lang, text, truth) for ``sizes`` extracts per topic."""
    rng = random.Random(seed)
    rows = []
    for topic, n in (sizes or SIZES).items():
        lang, sentences = SENTENCES[topic]
        for i in range(n):
            picked = rng.sample(sentences, 4)
            text = ("" if lang == "zh" else " ").join(picked)
            rows.append({"id": f"{topic}-{i:02d}", "lang": lang, "text": text, "truth": topic})
    return rows


def write_seed(path: Path, sizes: dict[str, int] | None = None) -> Path:
    """The seed as JSON Lines (``truth`` is the topic the extract was written on)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in topic_rows(sizes):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
