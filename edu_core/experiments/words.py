"""The lab's words: experiment text, reasons, class, group and variant names."""

from __future__ import annotations

from collections.abc import Callable

from edu_core import i18n
from edu_core.experiments.config import Variant
from edu_core.i18n import class_name

# --------------------------------------------------------------------------- words


def text(key: str, lang: str = "ko", **fmt: object) -> str:
    """A lab UI string (kept with every other string in ``edu_core.i18n``)."""

    return i18n.t(key, lang, **fmt)


def reason_text(code: str, lang: str = "ko") -> str:
    """The message for an experiment error code."""

    return i18n.reason_message(code, lang)


def _class_word(c: str, lang: str) -> str:

    return class_name(c, lang)


def _group_word(g: str, lang: str) -> str:

    key = f"lab.group.{g}"
    return text(key, lang) if i18n.has_key(key) else g


def group_label(lang: str = "ko") -> Callable[[str], str]:
    """A formatter for age-group names (teacher-made group names are shown as they are)."""
    return lambda g: _group_word(g, lang)


def variant_label(variant: Variant, lang: str = "ko") -> str:
    """A short name for a variant in the student's language."""
    p = variant.params
    if p.get("pair"):
        a, b = variant.classes
        return text("lab.var.pair", lang, a=_class_word(a, lang), b=_class_word(b, lang), n=p["per_class"])
    if "per_class" in p:
        return text("lab.var.n", lang, n=p["per_class"])
    if "remedy" in p:
        return text(f"lab.var.{p['remedy']}", lang)
    if "fraction" in p:
        return text("lab.var.mislabel", lang, pct=round(float(p["fraction"]) * 100))
    words = " + ".join(_group_word(g, lang) for g in p["groups"])
    return text("lab.var.same_size" if "same_size_as" in p else "lab.var.groups", lang, groups=words)
