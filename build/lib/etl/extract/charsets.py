"""Which legacy encoding a text that is not UTF-8 is in, and how sure that is.

Exports that are not UTF-8 come from Excel or old platforms in the system code page of whoever saved them:
cp1252 (Western Europe), cp1250 (Central Europe), cp1251 (Cyrillic), cp932 (Japanese Shift_JIS), GB18030
(Chinese) … The bytes alone often decode in several of them; the question is which decoding is *text*.

Each candidate code page that decodes the sample strictly is judged on its decoded text by three measures,
and the lower sum (``badness``) wins:

- ``charset_normalizer``'s mess ratio (the maintained detector's measure of how much a text looks like
  garbage: symbols glued to letters, mixed scripts, odd case changes …). It separates scripts well: GB18030
  bytes read as cp1251 are a mess, Cyrillic read as cp1252 is a mess.
- the share of words that no language could write: a word mixing scripts (``Josй``), a symbol between
  letters (``Ma³gorzata``, ``£ukasz``: cp1250 read as cp1252), or Latin letters no single language uses
  together (``Dvoøák``, ``Èerný``: Czech read as cp1252; ``Ĺngström``: Swedish read as cp1250). The mess
  ratio cannot see the last kind — every character is a letter — and it is the usual Central/Western
  confusion.
- accented letters foreign to the text's main alphabet (``foreign_letters``): an export is mostly one
  language, and Hungarian read as cp1252 needs Estonian's õ beside Hungarian's á, é, ö.

Decodings that give the same text (cp1252 and latin-1 for most Western files) are one candidate, named
after the first in ``CANDIDATES``. How sure: a softmax over the candidates' badness — the winner's share.
Below ``SURE`` the caller stops and asks for ``--encoding`` rather than guess: a wrong code page silently
corrupts every name.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from charset_normalizer.md import mess_ratio

# Order is the preference among decodings that give the same text, and the order candidates are listed in.
CANDIDATES: tuple[str, ...] = (
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1257",
    "koi8_r",
    "cp932",
    "euc_jp",
    "gb18030",
    "big5",
    "cp949",
    "cp1255",
    "cp1256",
    "cp874",
    "latin-1",
)
SURE = 0.8  # the winner's share of the softmax below which the caller stops and asks
TEMPERATURE = 0.5  # one implausible word more than the winner → the winner is ~7× likelier
# How much rarer an export in this code page is than one in cp1252, counted in implausible words: what
# decides between two decodings that both read as names. ``Quéré Lefèvre`` is ``Quéré Lefčvre`` in cp1250,
# a plausible Czech spelling letter by letter; only a language model could tell, and cp1252 — the Windows
# default in Western Europe and the Americas — is by far the likelier. So cp1250 needs one implausible
# word of evidence against cp1252 before it can win, and the winner then still needs ``SURE``.
PRIOR: dict[str, float] = {"cp1252": 0.0, "latin-1": 0.0, "cp1250": 1.0, "cp1251": 1.0, "cp932": 1.0}
OTHER_PRIOR = 1.5
# Per letter outside the text's main alphabet (see ``foreign_letters``). Small, because contact lists mix
# languages (Danish and French names in one cp1252 file); it adds up over a file: a Hungarian list of 20
# names read as cp1252 has a dozen õ and û, which together outweigh cp1250's prior.
FOREIGN_WEIGHT = 0.2

# Non-ASCII letters each Latin-script language writes (lower case). A word is plausible when one language
# has all of its letters; ``Dvoøák`` (ø with á) or ``Ĺngström`` (ĺ with ö) is no language's word.
ALPHABETS: tuple[str, ...] = (
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüß",  # German
    "áéíñóúü",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àèéìíîòóùú",  # Italian
    "àçéèíïòóúü·",  # Catalan
    "áéëïóöüèí",  # Dutch
    "æøåéóôü",  # Danish, Norwegian
    "åäöéü",  # Swedish, Finnish
    "áéíóúýþæöð",  # Icelandic
    "ąćęłńóśźż",  # Polish
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "áéíóöőúüű",  # Hungarian
    "ăâîșțşţ",  # Romanian
    "čćđšž",  # Croatian, Bosnian, Serbian (Latin), Slovene
    "çğıöşüâî",  # Turkish
    "äöõüšž",  # Estonian
    "āčēģīķļņšūž",  # Latvian
    "ąčęėįšųūž",  # Lithuanian
    "çë",  # Albanian
)
_ALPHABETS = tuple(frozenset(a) for a in ALPHABETS)
_TOKEN = re.compile(r"[\s,;|\"'()\[\]{}<>/\\:=+*&#@!?.]+")
_EDGES = "“”„«»‘’'\"-–—"  # quotes and dashes around a word say nothing about its letters
_INNER = frozenset("’‘-–·")  # fine between two letters of a name: O’Brien, Jean-Luc
_CJK = ("CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HALFWIDTH", "FULLWIDTH", "IDEOGRAPHIC")


@dataclass(frozen=True)
class Guess:
    """The chosen encoding, the winner's share (0–1) and the runner-up (a different decoding), if any."""

    encoding: str
    confidence: float
    runner_up: str | None

    @property
    def sure(self) -> bool:
        return self.confidence >= SURE


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0]
    return "CJK" if first in _CJK else first


def _implausible_words(text: str) -> tuple[int, int]:
    """(words with a non-ASCII character, how many of them no language writes)."""
    seen = bad = 0
    for token in _TOKEN.split(text):
        word = token.strip(_EDGES)
        if word.isascii():
            continue
        seen += 1
        if _implausible(word):
            bad += 1
    return seen, bad


def _implausible(word: str) -> bool:
    for i, c in enumerate(word):
        if unicodedata.category(c) in ("Cc", "Co", "Cn"):
            return True  # a C1 control or unassigned code point: bytes read in the wrong code page
        if not c.isalpha() and not c.isascii() and c not in _INNER:
            near = word[max(0, i - 1) : i] + word[i + 1 : i + 2]
            if any(n.isalpha() for n in near):
                return True  # a symbol glued to a letter: Ma³gorzata, £ukasz
    letters = [c for c in word if c.isalpha()]
    scripts = {_script(c) for c in letters}
    if len(scripts) > 1:
        return True
    high = {c for c in word.lower() if c.isalpha() and not c.isascii()}
    return scripts == {"LATIN"} and not any(high <= a for a in _ALPHABETS)


def foreign_letters(text: str) -> int:
    """Occurrences of accented Latin letters outside the one alphabet that covers most of them.

    A file is mostly one language: Hungarian ``Győző`` read as cp1252 is ``Gyõzõ`` — every word still
    plausible (õ is Estonian, Portuguese), but no single language writes both õ and the file's á, é, ö.
    """
    counts = Counter(c for c in text.lower() if c.isalpha() and not c.isascii() and _script(c) == "LATIN")
    if not counts:
        return 0
    return sum(counts.values()) - max(sum(n for c, n in counts.items() if c in a) for a in _ALPHABETS)


def badness(text: str) -> float:
    """Implausible words, the mess ratio weighted by the words judged, and ``FOREIGN_WEIGHT`` per letter
    foreign to the text's main alphabet: 0 for clean single-language text."""
    seen, bad = _implausible_words(text)
    return bad + mess_ratio(text, 1.0) * max(seen, 1) + FOREIGN_WEIGHT * foreign_letters(text)


def guess_encoding(sample: bytes) -> Guess:
    """Judge every candidate that decodes ``sample`` strictly (see the module docstring)."""
    texts: dict[str, str] = {}  # decoded text → the first candidate that gives it
    for name in CANDIDATES:
        try:
            text = sample.decode(name)
        except UnicodeDecodeError:
            continue
        texts.setdefault(text, name)
    scored = sorted(
        ((badness(t) + PRIOR.get(name, OTHER_PRIOR), name) for t, name in texts.items()), key=lambda s: s[0]
    )
    best_bad, best = scored[0]
    weights = [math.exp(-(bad - best_bad) / TEMPERATURE) for bad, _ in scored]
    return Guess(best, weights[0] / sum(weights), scored[1][1] if len(scored) > 1 else None)
