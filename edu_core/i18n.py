"""Every sentence the app shows, in Korean (default) and English, looked up by key.

Pages never write user-facing text inline: they call :func:`t` with a key, so a
teacher can switch the whole app to English and a test can check that both
languages have exactly the same keys. The sentences themselves are data, in
``locales/ko.toml`` and ``locales/en.toml`` (one flat table each), so a translator edits
them without touching Python. Reason codes raised anywhere in edu_core
(``ImageError``, face rejections, store and model errors) become a short, friendly
sentence through :func:`reason_message`.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from edu_core.cli import print_json
from edu_core.labels import KOREAN_NAMES

LANGUAGES: tuple[str, ...] = ("ko", "en")
DEFAULT_LANG = "ko"

_LOCALES = Path(__file__).resolve().parent.parent / "locales"


def _load_locale(lang: str) -> dict[str, str]:
    with open(_LOCALES / f"{lang}.toml", "rb") as fh:
        table = tomllib.load(fh)
    bad = [k for k, v in table.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"locales/{lang}.toml: not a sentence: {', '.join(bad[:5])}")
    return table


_KO: dict[str, str] = _load_locale("ko")
_EN: dict[str, str] = _load_locale("en")

_CLASS_EN: dict[str, str] = {
    "joy": "joy",
    "sadness": "sadness",
    "surprise": "surprise",
    "anger": "anger",
    "neutral": "neutral",
    "embarrassment": "embarrassment",
    "anxiety": "anxiety",
    "hurt": "hurt",
}

STRINGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"ko": MappingProxyType(_KO), "en": MappingProxyType(_EN)}
)


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; allowed: {', '.join(LANGUAGES)}")
    return lang


#: Korean particles written in both forms in the strings; which one fits depends on the word before
#: it (a class name a teacher may have renamed), so it is chosen after the placeholders are filled.
#: Value: (after a final consonant, after a vowel).
_JOSA: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "(으)로": ("으로", "로"),
        "이(가)": ("이", "가"),
        "을(를)": ("을", "를"),
        "은(는)": ("은", "는"),
        "과(와)": ("과", "와"),
        "(이)라": ("이라", "라"),
    }
)
_JOSA_RE = re.compile("|".join(re.escape(k) for k in _JOSA))
#: Closing quotes and Markdown marks between a word and its particle (‘중립’으로, **중립**으로).
_CLOSERS = "’'\"”)]}*_`」』》〉"
_RIEUL = 8  # jongseong index of ㄹ, which takes 로 rather than 으로
#: How the digits are read (영 일 이 삼 사 오 육 칠 팔 구): their final consonant's jongseong index.
_DIGIT_FINAL = {"0": 21, "1": 8, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": 8, "8": 8, "9": 0}


def _final_consonant(word: str) -> int | None:
    """Jongseong index (0 = ends in a vowel) of the word's last syllable; None when it is not Korean."""
    word = word.rstrip(_CLOSERS + " ")
    if not word:
        return None
    last = word[-1]
    if "가" <= last <= "힣":
        return (ord(last) - 0xAC00) % 28
    return _DIGIT_FINAL.get(last)


def josa(word: str, particle: str) -> str:
    """``word`` followed by the right form of ``particle`` (one of the keys of ``_JOSA``, e.g. "(으)로").

    A word whose sound cannot be told from its spelling (an English name) keeps the
    two-form particle, as Korean writing does.
    """
    return word + _particle(word, particle)


def _particle(before: str, particle: str) -> str:
    final = _final_consonant(before)
    if final is None:
        return particle
    with_consonant, with_vowel = _JOSA[particle]
    if particle == "(으)로" and final == _RIEUL:
        return with_vowel
    return with_consonant if final else with_vowel


def _resolve_josa(text: str) -> str:
    return _JOSA_RE.sub(lambda m: _particle(text[: m.start()], m.group()), text)


def t(key: str, lang: str = DEFAULT_LANG, **fmt: object) -> str:
    """The UI string ``key`` in ``lang``, with ``{placeholders}`` filled from ``fmt``.

    Korean particles written as ``(으)로``, ``이(가)``, ``을(를)``… take the form that fits
    the word in front of them. Raises ``KeyError`` for an unknown key so a typo fails in
    tests, not in class.
    """
    text = STRINGS[_check_lang(lang)][key]
    text = text.format(**fmt) if fmt else text
    return _resolve_josa(text) if lang == "ko" else text


def has_key(key: str) -> bool:
    """Whether ``key`` exists (in every language, by construction)."""
    return key in _KO


def reason_message(code: str, lang: str = DEFAULT_LANG) -> str:
    """A short, friendly sentence for a reason code, saying what to do next.

    Unknown codes still give a sentence (naming the code) so a new error in
    edu_core never shows a traceback or an empty box to a student.
    """
    key = f"reason.{code}"
    if key in STRINGS[_check_lang(lang)]:
        return t(key, lang)
    return t("reason.unknown", lang, code=code)


def reason_codes() -> tuple[str, ...]:
    """Every reason code that has a message."""
    return tuple(k.removeprefix("reason.") for k in _KO if k.startswith("reason.") and k != "reason.unknown")


def class_name(class_id: str, lang: str = DEFAULT_LANG, *, renamed: Mapping[str, str] | None = None) -> str:
    """The display name of a class id; a teacher's renaming wins when given."""
    if renamed and renamed.get(class_id):
        return renamed[class_id]
    if _check_lang(lang) == "ko":
        return KOREAN_NAMES.get(class_id, class_id)
    return _CLASS_EN.get(class_id, class_id)


_SIDE = re.compile(r"^(?P<base>.+?)(?P<side>Left|Right)$")


def blendshape_name(name: str, lang: str = DEFAULT_LANG) -> str:
    """A MediaPipe blendshape name (``mouthSmileLeft``) in plain words (``입꼬리 올리기 (미소) · 왼쪽``).

    MediaPipe's Left/Right are the subject's own sides, which is how a student
    talks about their own face.
    """
    table = STRINGS[_check_lang(lang)]
    if f"bs.{name}" in table:
        return table[f"bs.{name}"]
    match = _SIDE.match(name)
    if match and f"bs.{match['base']}" in table:
        side = table[f"bs.side_{match['side'].lower()}"]
        return f"{table['bs.' + match['base']]} · {side}"
    return name


def load_lesson(chapter: str, lang: str = DEFAULT_LANG, root: Path | None = None) -> dict[str, str]:
    """The lesson Markdown for ``chapter`` (e.g. ``"2_faces"``) split into its sections.

    Lesson files use three level-2 headings in a fixed order — objectives, teacher
    notes, quiz — marked by ``<!-- section: name -->`` comments so teachers can
    retitle the headings freely. Returns ``{"student": ..., "teacher": ..., "quiz": ...}``;
    a missing file raises ``FileNotFoundError``.
    """
    base = root or Path(__file__).resolve().parent.parent / "lessons"
    text = (base / _check_lang(lang) / f"{chapter}.md").read_text(encoding="utf-8")
    parts: dict[str, str] = {}
    current = "student"
    buf: list[str] = []
    for line in text.splitlines():
        marker = re.fullmatch(r"\s*<!--\s*section:\s*(\w+)\s*-->\s*", line)
        if marker:
            parts[current] = "\n".join(buf).strip()
            current, buf = marker.group(1), []
        else:
            buf.append(line)
    parts[current] = "\n".join(buf).strip()
    return {k: v for k, v in parts.items() if v}


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edu_core.i18n", description="Look up UI strings.")
    parser.add_argument("--lang", default=DEFAULT_LANG, choices=LANGUAGES)
    parser.add_argument("--reasons", action="store_true", help="print every reason code with its message")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("keys", nargs="*", help="keys to look up (default: all)")
    args = parser.parse_args(argv)
    if args.reasons:
        data = {code: reason_message(code, args.lang) for code in reason_codes()}
    else:
        keys = args.keys or list(_KO)
        unknown = [k for k in keys if not has_key(k)]
        if unknown:
            print(f"unknown keys: {', '.join(unknown)}", file=sys.stderr)
            return 2
        data = {k: STRINGS[args.lang][k] for k in keys}
    if args.json:
        print_json(data, indent=1)
    else:
        for k, v in data.items():
            print(f"{k}\t{v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
