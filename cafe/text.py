"""What text regsync accepts from people: names, identifiers and secrets, one rule each.

Every service that stores typed text cleans it here, so a form, an admin
action and a management command refuse the same things with the same words:
characters that do not show (control, bidi and zero-width formatting), text
that was not valid UTF-8, over-long values, markup in names, and names that
mix scripts with look-alike letters or look like another name. Look-alikes
come from Unicode's confusables table (TR39) as packaged by
confusable-homoglyphs.
"""

import unicodedata
from functools import lru_cache

from confusable_homoglyphs import categories, confusables
from django.core.exceptions import ValidationError

# Unicode categories that never belong in typed text: controls (NUL, CR, LF,
# ESC...), formatting (bidi overrides such as U+202E, zero-width spaces, the
# BOM), line/paragraph separators, surrogates (undecodable bytes from a shell),
# private use and unassigned code points.
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
# What a decoder puts where the bytes were not UTF-8.
_REPLACEMENT = "\ufffd"
_MARKUP = "<>"


def _refuse(field: str, message: str):
    raise ValidationError({field: message})


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def check_characters(value: str, *, field: str, what: str) -> None:
    """Refuse characters that cannot be seen or were not text: the first offender is named."""
    # U+FFFD is what a form decoder leaves, a surrogate what a shell's argv leaves.
    if _REPLACEMENT in value or any(unicodedata.category(ch) == "Cs" for ch in value):
        _refuse(field, f"{what} has characters that could not be read (not valid UTF-8).")
    for ch in value:
        if unicodedata.category(ch) in _INVISIBLE:
            kind = (
                "line breaks or tabs"
                if ch in "\r\n\t\u2028\u2029"
                else "invisible or control characters"
            )
            _refuse(field, f"{what} cannot contain {kind} ({_describe(ch)}).")


def check_length(value: str, *, field: str, what: str, max_length: int) -> None:
    if len(value) > max_length:
        _refuse(field, f"{what} is {len(value)} characters long; at most {max_length}.")


def clean_identifier(value: str | None, *, field: str, what: str, max_length: int) -> str:
    """A database name, a login: stripped, bounded, visible characters only ('' allowed)."""
    value = (value or "").strip()
    check_length(value, field=field, what=what, max_length=max_length)
    check_characters(value, field=field, what=what)
    return value


def clean_secret(value: str | None, *, field: str, what: str, max_length: int) -> str:
    """An API key or password: as clean_identifier, and no spaces inside (it goes in headers).

    The messages never repeat the value.
    """
    value = clean_identifier(value, field=field, what=what, max_length=max_length)
    if any(ch.isspace() for ch in value):
        _refuse(field, f"{what} cannot contain spaces.")
    return value


def clean_name(
    value: str | None, *, field: str, what: str, max_length: int, required: bool = True
) -> str:
    """A name people read: not empty, bounded, visible, no markup, one script for look-alikes."""
    value = (value or "").strip()
    if not value:
        if required:
            _refuse(field, f"{what} cannot be empty.")
        return value
    check_length(value, field=field, what=what, max_length=max_length)
    check_characters(value, field=field, what=what)
    value = unicodedata.normalize("NFC", value)
    if any(ch in _MARKUP for ch in value):
        _refuse(field, f"{what} cannot contain < or >.")
    found = confusables.is_dangerous(value) and confusables.is_confusable(value, greedy=True)
    if found:
        scripts = sorted({categories.alias(ch).title() for ch in value} - {"Common"})
        _refuse(
            field,
            f"{what} mixes {' and '.join(scripts)} letters that look alike "
            f"({_describe(_minority_lookalike(value, found))}); type it in one script.",
        )
    return value


def _minority_lookalike(value: str, found: list[dict]) -> str:
    """The look-alike to name: one from the name's less used script, the likely intruder."""
    scripts = [categories.alias(ch) for ch in value if categories.alias(ch) != "COMMON"]
    minority = min(set(scripts), key=scripts.count)
    return next((f["character"] for f in found if f["alias"] == minority), found[0]["character"])


@lru_cache(maxsize=4096)
def _twins(ch: str) -> frozenset[str]:
    found = confusables.is_confusable(ch, greedy=True)
    if not found:
        return frozenset({ch})
    return frozenset({ch, *(h["c"] for h in found[0]["homoglyphs"])})


def _same_glyph(a: str, b: str) -> bool:
    return a == b or bool(_twins(a) & _twins(b))


def looks_alike(a: str, b: str) -> bool:
    """True when `a` and `b` read the same: equal but for case and look-alike letters.

    Letter for letter (Unicode's 'rn' for 'm' and other many-to-one look-alikes
    are not compared); compatibility forms (fullwidth, mathematical letters) are
    folded first.
    """
    a, b = unicodedata.normalize("NFKC", a), unicodedata.normalize("NFKC", b)
    if len(a) != len(b):
        return False
    lower_a, lower_b = a.lower(), b.lower()
    same_case_length = len(lower_a) == len(a) and len(lower_b) == len(b)
    return all(
        _same_glyph(x, y) or (same_case_length and _same_glyph(lower_a[i], lower_b[i]))
        for i, (x, y) in enumerate(zip(a, b, strict=True))
    )
