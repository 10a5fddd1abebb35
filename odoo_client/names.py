"""When two Point of Sale names are the same (`name_key`), and how to ask Odoo for them (`name_pattern`).

`name_key` is the one rule: Unicode's canonical caseless match (NFD, casefold,
normalised again: "Straße" is "STRASSE", an NFD "Café" is the NFC one), with
whitespace runs read as one space and trimmed. Odoo cannot compare that way:
its `=ilike` is PostgreSQL's ILIKE, which lowercases both sides character by
character in the database's locale (no casefold, no normalisation; docs/odoo.md).
So `name_pattern` sends a broader pattern, with a wildcard wherever a name
`name_key` calls equal may hold other characters, and the caller keeps only
the records whose `name_key` is equal.
"""

from __future__ import annotations

import functools
import sys
import unicodedata

# LIKE's own characters, escaped with PostgreSQL's default escape character.
_LIKE_SPECIAL = "\\%_"


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def name_key(name: str) -> str:
    """What onboarding compares: canonical caseless (Unicode D145), whitespace runs as one space."""
    return " ".join(_fold(name).split())


@functools.cache
def _folding() -> tuple[frozenset[str], tuple[str, ...]]:
    """What other characters a key's characters may stand for in Odoo, from a scan of Unicode.

    `targets`: the characters that some other character folds to, so a name
    in Odoo may hold that other one there ("é" for "É", "s" for the long s U+017F); ILIKE's
    lowercasing depends on the locale beyond ASCII, so only ASCII case is left
    to it. `expansions`: what a non-ASCII character folds to when that holds
    ASCII ("ss" for "ß", "fi" for "ﬁ", "k" for the Kelvin sign). One pass over
    every code point, once per process (a few tenths of a second).
    """
    targets: set[str] = set()
    expansions: set[str] = set()
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = _fold(char)
        if folded == char:
            continue
        for x in folded:
            if x != char and not (char.isascii() and char.lower() == x):
                targets.add(x)
        if not char.isascii() and any(x.isascii() for x in folded):
            expansions.add(folded)
    return frozenset(targets), tuple(sorted(expansions, key=len, reverse=True))


def name_pattern(name: str) -> str:
    """An `=ilike` pattern that matches, in Odoo, every name whose `name_key` equals `name`'s.

    Broader than that (the caller narrows): a `%` stands for each whitespace
    run, each non-ASCII character whose case or normal form may differ (which
    is most of them), and each ASCII stretch a non-ASCII character folds to;
    the ends are open, since the key is trimmed. Literal `%`, `_` and `\\`
    are escaped. A name with nothing stable left gives `%`: every record.
    """
    key = name_key(name)
    targets, expansions = _folding()
    wild = [False] * len(key)
    for expansion in expansions:
        start = key.find(expansion)
        while start != -1:
            wild[start : start + len(expansion)] = [True] * len(expansion)
            start = key.find(expansion, start + 1)
    parts = ["%"]
    for char, covered in zip(key, wild, strict=True):
        stable = char.isascii() or (
            char not in targets and unicodedata.normalize("NFD", char) == char
        )
        if covered or char.isspace() or not stable:
            if parts[-1] != "%":
                parts.append("%")
        else:
            parts.append("\\" + char if char in _LIKE_SPECIAL else char)
    if parts[-1] != "%":
        parts.append("%")
    return "".join(parts)
