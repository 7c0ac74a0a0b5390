"""Personal data: found by pattern, checked, replaced by a placeholder, counted.

Kinds, in the order they are searched (an earlier kind's placeholder hides the
digits from the later ones):

- ``email``: ``name@domain.tld``;
- ``id_number``: an 18-character Chinese resident ID number whose region digit,
  birth date and ISO 7064 MOD 11-2 check character are valid;
- ``phone``: a Chinese mobile number (1[3-9]x xxxx xxxx, optionally +86 / 0086,
  blanks or dashes between the groups), or an E.164 number (``+``, country code,
  8 to 15 digits in all);
- ``card``: 13 to 19 digits, plain or in groups of four (Amex: 4-6-5), starting
  with 2-6 and passing the Luhn check;
- ``ip``: a public IPv4 or IPv6 address (``ipaddress`` accepts it and calls it
  global; private, loopback, link-local and documentation ranges are nobody's and
  left, as datatrove does by default).

Only counts leave this module: a found value is never returned or logged.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Collection

KINDS = ("email", "ip", "phone", "id_number", "card")
PLACEHOLDERS = {
    "email": "<EMAIL>",
    "ip": "<IP>",
    "phone": "<PHONE>",
    "id_number": "<ID_NUMBER>",
    "card": "<CARD>",
}

EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"\d{3}[0-9Xx](?![0-9A-Za-z])"
)
PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?:"
    r"(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}"  # Chinese mobile
    r"|\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}"  # E.164
    r")(?![0-9])"
)
CARD = re.compile(
    r"(?<![0-9A-Za-z.,-])(?:\d{13,19}"
    r"|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
    r"|\d{4}([ -])\d{6}\2\d{5})"
    r"(?![0-9A-Za-z-]|[.,]\d)"
)
IPV4 = re.compile(r"(?<![0-9A-Za-z.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)")
IPV6 = re.compile(
    r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![0-9A-Za-z:])"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_DIGITS = re.compile(r"\d")


def id_number_valid(value: str) -> bool:
    """The ISO 7064 MOD 11-2 check character of a Chinese resident ID number."""
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_valid(value: str) -> bool:
    digits = "".join(_DIGITS.findall(value))
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def phone_valid(value: str) -> bool:
    digits = len(_DIGITS.findall(value))
    return 8 <= digits <= 15 if value.startswith("+") else True


def ip_valid(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.is_global


# (kind, pattern, check, a substring every match has: a cheap test before the regex)
SEARCHES: tuple[tuple[str, re.Pattern, Callable[[str], bool], str | None], ...] = (
    ("email", EMAIL, lambda _: True, "@"),
    ("id_number", ID_NUMBER, id_number_valid, None),
    ("phone", PHONE, phone_valid, None),
    ("card", CARD, card_valid, None),
    ("ip", IPV6, ip_valid, ":"),
    ("ip", IPV4, ip_valid, "."),
)
_HAS_DIGIT = re.compile(r"\d")
SEARCH_NAMES = ("email", "id_number", "phone", "card", "ip6", "ip4")


# Pre-checks (``fast``): a pattern only runs on a text that has what every one of
# its matches has. The checks are made once, before any replacement: what they
# look for is made of digits, " ", "-", ".", ":", hex letters, "+" and "@", and a
# placeholder has no digit, ":", "+" or "@" and is enclosed in "<" ">", so no
# replacement can make a check's match appear.
# 8 digits, maybe split by " " or "-" after 4: in every id_number (17 in a row), card
# (13 to 19 in a row, or 4 + 4 + ..., or 4 + 6 + 5) and Chinese mobile (3 + 4 + 4)
EIGHT_DIGITS = re.compile(r"\d{4}[ -]?\d{4}")
E164_START = re.compile(r"\+\d")  # in every E.164 number
EMAIL_AT = re.compile(r"@[A-Za-z0-9]")  # in every email address
MOBILE = re.compile(r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}")  # in every Chinese mobile number
DOTTED = re.compile(r"\.\d{1,3}\.\d{1,3}\.")  # in every IPv4 address
# A valid IPv6 address (only valid ones are masked) has "::" or, written out, 8 groups
# or 6 and an IPv4 address: ":" and 5 groups of 1-4 hex digits, each with its ":".
SIX_GROUPS = re.compile(r":(?:[0-9A-Fa-f]{1,4}:){5}")


def _worth_searching(text: str) -> dict[str, bool]:
    """Which patterns of SEARCHES can mask something in ``text`` (False: none of
    its matches, or for IPv6 none that ipaddress accepts, which alone are masked)."""
    eight = EIGHT_DIGITS.search(text) is not None
    return {
        "email": "@" in text and EMAIL_AT.search(text) is not None,
        "id_number": eight,
        "phone": ("+" in text and E164_START.search(text) is not None)
        or (eight and MOBILE.search(text) is not None),
        "card": eight,
        "ip6": ":" in text and ("::" in text or SIX_GROUPS.search(text) is not None),
        "ip4": "." in text and DOTTED.search(text) is not None,
    }


def find_and_mask(
    text: str, kinds: Collection[str] = KINDS, fast: bool = True
) -> tuple[str, Counter]:
    """(text with every found value of ``kinds`` replaced by its placeholder, counts by kind)."""
    found: Counter = Counter()
    worth = _worth_searching(text) if fast else None  # covers the check below
    if not fast and "@" not in text and ":" not in text and not _HAS_DIGIT.search(text):
        return text, found
    for (kind, pattern, check, needle), name in zip(SEARCHES, SEARCH_NAMES, strict=True):
        if kind not in kinds or (needle is not None and needle not in text):
            continue
        if worth is not None and not worth[name]:
            continue

        def replace(match: re.Match, kind: str = kind, check=check) -> str:
            if not check(match.group()):
                return match.group()
            found[kind] += 1
            return PLACEHOLDERS[kind]

        text = pattern.sub(replace, text)
    return text, found
