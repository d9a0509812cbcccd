"""Chinese names as people search for them: toneless pinyin, "fuzzy" pinyin (the usual homophone
confusions merged: zh/z, ch/c, sh/s, l/n, -ng/-n) and simplified characters (張三 → 张三).

Shared by the master person index (comparing names) and element search (matching them).
"""

from __future__ import annotations

import re
from functools import lru_cache

_FUZZY = ((re.compile(r"^zh"), "z"), (re.compile(r"^ch"), "c"), (re.compile(r"^sh"), "s"),
          (re.compile(r"^l"), "n"), (re.compile(r"ng$"), "n"))
ROMAN = re.compile(r"^[A-Za-z]+(?:[\s.\-·]+[A-Za-z]+)+$")
"""A romanised name of two or more words (``Zhang Yixiao``, ``YIXIAO ZHANG``)."""


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


@lru_cache(maxsize=65536)
def char_pinyin(ch: str) -> tuple[str, str]:
    """(toneless pinyin, fuzzy pinyin) of one character; other characters stand for themselves."""
    from pypinyin import lazy_pinyin

    if not is_han(ch):
        return ch.lower(), ch.lower()
    syllable = lazy_pinyin(ch)[0].lower()
    return syllable, fuzzy_syllable(syllable)


def fuzzy_syllable(syllable: str) -> str:
    for pattern, repl in _FUZZY:
        syllable = pattern.sub(repl, syllable)
    return syllable


def name_tokens(name: str) -> str | None:
    """The name as pinyin words in a fixed order, so that 张怡晓, ``Zhang Yixiao`` and ``YIXIAO ZHANG``
    agree: a Chinese name is its surname's and its given name's pinyin, a romanised one its words,
    sorted and joined by ``|`` (None for a single word)."""
    if ROMAN.match(name):
        words = [w.lower() for w in re.split(r"[\s.\-·]+", name) if w]
    elif len(name) >= 2 and all(is_han(c) for c in name):
        words = [char_pinyin(name[0])[0], "".join(char_pinyin(c)[0] for c in name[1:])]
    else:
        return None
    return "|".join(sorted(words)) if len(words) >= 2 else None


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """Traditional characters as simplified ones (OpenCC ``t2s``): 劉德華 → 刘德华."""
    if text.isascii():
        return text
    return _t2s().convert(text)  # type: ignore[attr-defined]


def name_pinyin(name: str) -> tuple[str, str]:
    """(toneless, fuzzy) pinyin of a whole name, letters only: 张三 → (zhangsan, zansan); a romanised name or
    typed pinyin its letters (``Zhang San`` → zhangsan). The fuzzy form is :func:`fuzzy_key` of the letters,
    so it needs no syllable boundaries (``wanguixian`` typed for 王桂香 agrees)."""
    if ROMAN.match(name) or name.isascii():
        letters = re.sub(r"[^a-z]", "", name.lower())
    else:
        letters = "".join(char_pinyin(c)[0] for c in simplified(name) if is_han(c) or c.isalnum())
    return letters, fuzzy_key(letters)


def fuzzy_key(letters: str) -> str:
    """Pinyin letters with the usual confusions merged wherever they occur: zh/z, ch/c, sh/s, -ng/-n, l/n."""
    out = letters.replace("zh", "z").replace("ch", "c").replace("sh", "s").replace("l", "n")
    while "ng" in out:  # to a fixed point: wang+gui and wan+gui agree however the letters were split
        out = out.replace("ng", "n")
    return out
