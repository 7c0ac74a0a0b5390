"""Chinese text: which documents are in Chinese script, OpenCC conversion, pinyin.

- :func:`script_of` counts Han characters, kana, hangul and Latin words; a
  document is in Chinese script when Han characters are at least ``CHINESE_SHARE``
  of those units and kana + hangul at most ``OTHER_CJK_SHARE`` of the CJK
  characters (so Japanese and Korean pages are left alone).
- :class:`Converter` runs an OpenCC configuration (``t2s``: traditional to
  simplified, ``s2twp``, ...) and counts the characters it changed.
- :class:`Pinyin` finds romanised Mandarin inside Chinese text: tokens with tone
  marks (``nǐ hǎo``) and runs of ``min_run`` or more tokens that split into
  Mandarin syllables (``wo men jin tian``). Its share is pinyin syllables over
  syllables + Han characters (one syllable stands for one character).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CHINESE_SHARE = 0.3
OTHER_CJK_SHARE = 0.05

HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff]")
HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
LATIN_WORD = re.compile(f"[{LATIN}]+")
# Latin words separated by blanks, apostrophes, hyphens or ASCII punctuation.
LATIN_RUN = re.compile(f"[{LATIN}]+(?:[\\s'’\\-,.;:!?]+[{LATIN}]+)*")

# Standard Mandarin syllables without tones (ü written u after j q x y, and
# l/n + ü as lu/nu, lue/nue, or lv/nv, lve/nve as typed).
_SYLLABLES = """
a o e ai ei ao ou an en ang eng er
yi ya yo ye yao you yan yin yang ying yong wu wa wo wai wei wan wen wang weng yu yue yuan yun
ba bo bai bei bao ban ben bang beng bi bie biao bian bin bing bu
pa po pai pei pao pou pan pen pang peng pi pie piao pian pin ping pu
ma mo me mai mei mao mou man men mang meng mi mie miao miu mian min ming mu
fa fo fei fou fan fen fang feng fu
da de dai dei dao dou dan den dang deng dong di die diao diu dian ding du duo dui duan dun
ta te tai tao tou tan tang teng tong ti tie tiao tian ting tu tuo tui tuan tun
na ne nai nei nao nou nan nen nang neng nong ni nie niao niu nian nin niang ning nu nuo nuan
nue nv nve
la lo le lai lei lao lou lan lang leng long li lia lie liao liu lian lin liang ling lu luo luan
lun lue lv lve
ga ge gai gei gao gou gan gen gang geng gong gu gua guo guai gui guan gun guang
ka ke kai kei kao kou kan ken kang keng kong ku kua kuo kuai kui kuan kun kuang
ha he hai hei hao hou han hen hang heng hong hu hua huo huai hui huan hun huang
ji jia jie jiao jiu jian jin jiang jing jiong ju jue juan jun
qi qia qie qiao qiu qian qin qiang qing qiong qu que quan qun
xi xia xie xiao xiu xian xin xiang xing xiong xu xue xuan xun
zha zhe zhi zhai zhei zhao zhou zhan zhen zhang zheng zhong zhu zhua zhuo zhuai zhui zhuan zhun
zhuang
cha che chi chai chao chou chan chen chang cheng chong chu chua chuo chuai chui chuan chun chuang
sha she shi shai shei shao shou shan shen shang sheng shu shua shuo shuai shui shuan shun shuang
re ri rao rou ran ren rang reng rong ru rua ruo rui ruan run
za ze zi zai zei zao zou zan zen zang zeng zong zu zuo zui zuan zun
ca ce ci cai cao cou can cen cang ceng cong cu cuo cui cuan cun
sa se si sai sao sou san sen sang seng song su suo sui suan sun
"""
SYLLABLES = frozenset(_SYLLABLES.split())
LONGEST = max(map(len, SYLLABLES))
# Combining marks of the four tones (macron, acute, caron, grave) and the diaeresis of ü.
TONE_MARKS = frozenset("\u0304\u0301\u030c\u0300")
DIAERESIS = "\u0308"


@dataclass(frozen=True)
class Script:
    han: int
    kana: int
    hangul: int
    latin_words: int

    @property
    def chinese(self) -> bool:
        cjk = self.han + self.kana + self.hangul
        if not self.han or self.kana + self.hangul > OTHER_CJK_SHARE * cjk:
            return False
        return self.han >= CHINESE_SHARE * (cjk + self.latin_words)


def script_of(text: str) -> Script:
    return Script(
        len(HAN.findall(text)),
        len(KANA.findall(text)),
        len(HANGUL.findall(text)),
        len(LATIN_WORD.findall(text)),
    )


# Runs of the same characters: their lengths add up to the count of the characters
# (one list item per run, not per character: about twice as fast).
HAN_RUN, KANA_RUN, HANGUL_RUN = (re.compile(f"{p.pattern}+") for p in (HAN, KANA, HANGUL))
KANA_OR_HANGUL = re.compile(f"{KANA.pattern}|{HANGUL.pattern}")


def chinese_han(text: str, fast: bool = True) -> tuple[bool, int]:
    """(in Chinese script, Han characters): :func:`script_of`'s ``chinese`` and
    ``han``; ``fast`` counts the rest only when there is a Han character (without,
    a text is not in Chinese script whatever the other counts)."""
    if not fast:
        script = script_of(text)
        return script.chinese, script.han
    if text.isascii() or not HAN.search(text):
        return False, 0
    other = KANA_OR_HANGUL.search(text) is not None  # usually none: two counts saved
    script = Script(
        sum(map(len, HAN_RUN.findall(text))),
        sum(map(len, KANA_RUN.findall(text))) if other else 0,
        sum(map(len, HANGUL_RUN.findall(text))) if other else 0,
        len(LATIN_WORD.findall(text)),
    )
    return script.chinese, script.han


# ---------------------------------------------------------------- OpenCC


def changed_chars(before: str, after: str) -> int:
    """Characters that differ between a text and its conversion."""
    if before == after:
        return 0
    if len(before) == len(after):  # code point by code point, as arrays
        return int(np.count_nonzero(_code_points(before) != _code_points(after)))
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"
    )


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class Converter:
    """An OpenCC conversion (``clean.chinese.convert``: t2s, s2t, tw2sp, ...)."""

    def __init__(self, config: str) -> None:
        import opencc

        self.config = config
        self._opencc = opencc.OpenCC(f"{config}.json")

    def __call__(self, text: str) -> tuple[str, int]:
        """(converted text, characters changed)."""
        converted = self._opencc.convert(text)
        return converted, changed_chars(text, converted)


# ---------------------------------------------------------------- pinyin


@lru_cache(maxsize=65536)
def syllable_count(word: str) -> int:
    """Mandarin syllables a toneless lower-case word splits into (0: not pinyin)."""
    n = len(word)
    best = [0] + [-1] * n  # best[i]: fewest syllables covering word[:i], -1 unreachable
    for end in range(1, n + 1):
        for start in range(max(0, end - LONGEST), end):
            if best[start] >= 0 and word[start:end] in SYLLABLES:
                count = best[start] + 1
                if best[end] < 0 or count < best[end]:
                    best[end] = count
    return max(best[n], 0)


@lru_cache(maxsize=65536)
def pinyin_token(token: str) -> tuple[int, bool]:
    """(syllables, tone-marked) of a Latin token; (0, False) when it is no pinyin."""
    if len(token) > 1 and not token[1:].islower():  # ALLCAPS or camelCase: no pinyin
        return 0, False
    decomposed = unicodedata.normalize("NFD", token.lower())
    marks = sum(ch in TONE_MARKS for ch in decomposed)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if not plain.isascii() or (len(plain) == 1 and not marks and DIAERESIS not in decomposed):
        return 0, False
    count = syllable_count(plain)
    # Pinyin marks most syllables of a word (Běijīng, péngyou); French names mark one
    # vowel of many syllables (Étienne), and are no pinyin.
    marked = bool(count) and (2 * marks >= count or DIAERESIS in decomposed)
    return (count, marked) if marked or not marks else (0, False)


@dataclass(frozen=True)
class Pinyin:
    """Pinyin inside Chinese text (``clean.pinyin``)."""

    mode: str  # reject | flag
    max_share: float
    min_run: int

    def syllables(self, text: str, fast: bool = True) -> int:
        """Pinyin syllables in tone-marked runs and in runs of ``min_run`` tokens
        (``fast``: each run of Latin words counted once, the count remembered)."""
        if fast:
            return sum(_span_syllables(span, self.min_run) for span in LATIN_RUN.findall(text))
        total = 0
        for span in LATIN_RUN.finditer(text):
            run: list[tuple[int, bool]] = []
            for token in LATIN_WORD.findall(span.group()):
                found = pinyin_token(token)
                if found[0]:
                    run.append(found)
                    continue
                total += self._run_syllables(run)
                run = []
            total += self._run_syllables(run)
        return total

    def _run_syllables(self, run: list[tuple[int, bool]]) -> int:
        return _run_syllables(run, self.min_run)

    def share(self, text: str, han: int, fast: bool = True) -> tuple[int, float]:
        """(pinyin syllables, their share of syllables + Han characters)."""
        count = self.syllables(text, fast)
        return count, (count / (count + han) if count else 0.0)


def _run_syllables(run: list[tuple[int, bool]], min_run: int) -> int:
    if len(run) >= min_run or any(marked for _, marked in run):
        return sum(count for count, _ in run)
    return 0


@lru_cache(maxsize=65536)
def _span_syllables(span: str, min_run: int) -> int:
    """Pinyin.syllables of one LATIN_RUN match: its tokens, in runs of pinyin tokens."""
    total = 0
    run: list[tuple[int, bool]] = []
    for token in LATIN_WORD.findall(span):
        found = pinyin_token(token)
        if found[0]:
            run.append(found)
            continue
        total += _run_syllables(run, min_run)
        run = []
    return total + _run_syllables(run, min_run)
