"""Model labels as the language codes the corpus uses (``normalize_label``)."""

from __future__ import annotations

import re
from collections.abc import Mapping

# ISO 639-3 -> ISO 639-1, for every language that has a two-letter code
# (from the ISO 639-3 table; "aaraa" reads aar -> aa).
_ISO639_3_TO_1_PACKED = (
    "aaraa abkab afraf akaak amham araar argan asmas avaav aveae aymay azeaz bakba bambm belbe "
    "benbn bisbi bodbo bosbs brebr bulbg catca cescs chach chece chucu chvcv corkw cosco crecr "
    "cymcy danda deude divdv dzodz ellel engen epoeo estet euseu eweee faofo fasfa fijfj finfi "
    "frafr fryfy fulff glagd glega glggl glvgv grngn gujgu hatht hauha hbssh hebhe herhz hinhi "
    "hmoho hrvhr hunhu hyehy iboig idoio iiiii ikuiu ileie inaia indid ipkik islis itait javjv "
    "jpnja kalkl kankn kasks katka kaukr kazkk khmkm kikki kinrw kirky komkv konkg korko kuakj "
    "kurku laolo latla lavlv limli linln litlt ltzlb lublu luglg mahmh malml marmr mkdmk mlgmg "
    "mltmt monmn mrimi msams myamy nauna navnv nblnr ndend ndong nepne nldnl nnonn nobnb norno "
    "nyany ocioc ojioj orior ormom ossos panpa plipi polpl porpt pusps quequ rohrm ronro runrn "
    "rusru sagsg sansa sinsi slksk slvsl smese smosm snasn sndsd somso sotst spaes sqisq srdsc "
    "srpsr sswss sunsu swasw swesv tahty tamta tattt telte tgktg tgltl thath tirti tonto tsntn "
    "tsots tuktk turtr twitw uigug ukruk urdur uzbuz venve vievi volvo wlnwa wolwo xhoxh yidyi "
    "yoryo zhaza zhozh zulzu"
)


ISO639_3_TO_1 = {item[:3]: item[3:] for item in _ISO639_3_TO_1_PACKED.split()}


# The standard variety of a macrolanguage, as LID models label it, -> the macrolanguage.
STANDARD_VARIETIES = {
    "cmn": "zho",  # Mandarin Chinese
    "arb": "ara",  # Standard Arabic
    "pes": "fas",  # Iranian Persian
    "zsm": "msa",  # Standard Malay
    "ekk": "est",  # Standard Estonian
    "lvs": "lav",  # Standard Latvian
    "swh": "swa",  # Swahili (individual language)
    "azj": "aze",  # North Azerbaijani
    "uzn": "uzb",  # Northern Uzbek
    "khk": "mon",  # Khalkha Mongolian
    "npi": "nep",  # Nepali (individual language)
    "ory": "ori",  # Odia (individual language)
    "plt": "mlg",  # Plateau Malagasy
    "gaz": "orm",  # West Central Oromo
    "quy": "que",  # Ayacucho Quechua
    "als": "sqi",  # Tosk Albanian
    "ydd": "yid",  # Eastern Yiddish
    "kmr": "kur",  # Northern Kurdish (Kurmanji)
    "pbt": "pus",  # Southern Pashto
    "gug": "grn",  # Paraguayan Guarani
}


_SCRIPT_LABEL = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")


def normalize_label(
    label: str, label_map: Mapping[str, str] | None = None, prefix: str = ""
) -> str:
    """A model label as the language code the corpus uses (see the module docstring)."""
    if prefix and label.startswith(prefix):
        label = label[len(prefix) :]
    if label_map and label in label_map:
        return label_map[label]
    match = _SCRIPT_LABEL.match(label)
    if match:
        code = STANDARD_VARIETIES.get(match.group(1), match.group(1))
        return ISO639_3_TO_1.get(code, code)
    return label
