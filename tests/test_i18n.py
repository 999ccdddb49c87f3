"""i18n: both languages complete, every reason code has a friendly message, lessons parse."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from edu_core import i18n
from edu_core.faces import REASONS as FACE_REASONS
from edu_core.images import REASONS as IMAGE_REASONS
from edu_core.labels import KOREAN_NAMES, LESSON_CLASSES

ROOT = Path(__file__).resolve().parent.parent
STORE_CODES = ("not_found", "forbidden", "bad_pin", "pin_locked", "disk_full", "read_only")
DATASET_CODES = ("empty_class", "too_few_images", "imbalanced", "samples_missing")


def test_korean_and_english_have_exactly_the_same_keys():
    ko, en = set(i18n.STRINGS["ko"]), set(i18n.STRINGS["en"])
    assert ko - en == set(), f"missing in English: {sorted(ko - en)}"
    assert en - ko == set(), f"missing in Korean: {sorted(en - ko)}"


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_placeholders_match_between_languages():
    for key, ko in i18n.STRINGS["ko"].items():
        assert _fields(ko) == _fields(i18n.STRINGS["en"][key]), key


def test_no_empty_strings_and_korean_really_is_korean():
    hangul = re.compile(r"[\uac00-\ud7a3]")
    for key, text in i18n.STRINGS["ko"].items():
        assert text.strip(), key
        assert i18n.STRINGS["en"][key].strip(), key
        if _fields(text) and not re.search(r"[A-Za-z\uac00-\ud7a3]", re.sub(r"\{[^}]*\}", "", text)):
            continue  # only placeholders, nothing to translate
        assert hangul.search(text), f"{key} has no Korean: {text!r}"
        assert not hangul.search(i18n.STRINGS["en"][key]), f"{key} English text has Hangul"


@pytest.mark.parametrize(
    "code",
    sorted(
        set(FACE_REASONS)
        | set(IMAGE_REASONS)
        | set(STORE_CODES)
        | set(DATASET_CODES)
        | {"model_missing", "face_model_missing"}
    ),
)
def test_every_reason_code_has_its_own_message(code):
    for lang in i18n.LANGUAGES:
        msg = i18n.reason_message(code, lang)
        assert msg != i18n.t("reason.unknown", lang, code=code)
        assert len(msg) < 120  # a short sentence, fit for a child


def test_unknown_reason_still_gives_a_sentence():
    assert "brand_new_code" in i18n.reason_message("brand_new_code", "en")
    assert "brand_new_code" in i18n.reason_message("brand_new_code")


def test_store_error_subclasses_have_messages():
    from edu_core import store
    from edu_core.errors import StoreError

    for cls in vars(store).values():
        if isinstance(cls, type) and issubclass(cls, StoreError) and cls is not StoreError:
            assert i18n.has_key(f"reason.{cls.code}"), cls


def test_unknown_key_and_language_fail_loudly():
    with pytest.raises(KeyError):
        i18n.t("no.such.key")
    with pytest.raises(ValueError, match="allowed"):
        i18n.t("app.title", "fr")


def test_formatting_and_class_names():
    assert i18n.t("collect.done", ok=3, bad=1) == "3장에서 얼굴을 찾았고, 1장은 쓸 수 없었어요."
    assert [i18n.class_name(c) for c in LESSON_CLASSES] == [KOREAN_NAMES[c] for c in LESSON_CLASSES]
    assert i18n.class_name("anger", "en") == "anger"
    assert i18n.class_name("anger", "ko", renamed={"anger": "짜증"}) == "짜증"


@pytest.mark.parametrize(
    ("word", "ro", "ga", "reul", "neun"),
    [
        ("중립", "중립으로", "중립이", "중립을", "중립은"),
        ("당황", "당황으로", "당황이", "당황을", "당황은"),
        ("분노", "분노로", "분노가", "분노를", "분노는"),
        ("하늘", "하늘로", "하늘이", "하늘을", "하늘은"),  # ㄹ-final takes 로, not 으로
        ("‘기쁨’", "‘기쁨’으로", "‘기쁨’이", "‘기쁨’을", "‘기쁨’은"),
        ("**슬픔**", "**슬픔**으로", "**슬픔**이", "**슬픔**을", "**슬픔**은"),
        ("3", "3으로", "3이", "3을", "3은"),
        ("Joy", "Joy(으)로", "Joy이(가)", "Joy을(를)", "Joy은(는)"),  # cannot tell: both forms stay
    ],
)
def test_josa_follows_the_final_consonant(word, ro, ga, reul, neun):
    assert [i18n.josa(word, p) for p in ("(으)로", "이(가)", "을(를)", "은(는)")] == [ro, ga, reul, neun]


def test_particles_after_class_names_fit_the_name_even_when_renamed():
    assert "당황으로 답함" in i18n.t("k7.most_confused", true="중립", pred="당황", n=3)
    assert "분노로 답함" in i18n.t("k7.most_confused", true="중립", pred="분노", n=3)
    renamed = i18n.class_name("anger", "ko", renamed={"anger": "짜증"})
    assert i18n.t("label.moved", n=2, name=renamed) == "2장을 ‘짜증’으로 옮겼어요."
    assert i18n.t("eval.relabel", name="토끼") == "이름표를 ‘토끼’로 바꾸기"
    assert i18n.t("label.moved", "en", n=2, name="Joy") == "Moved 2 photos to ‘Joy’."
    said = i18n.t("lab.effect.clear", what="정확도", good="60장", bad="20장", good_pct=70, bad_pct=60, diff=9)
    assert said.startswith("볼 것: 정확도가 ") and "이(가)" not in said


def test_no_korean_string_glues_a_fixed_particle_to_a_placeholder():
    # "{pred}로" reads "중립로" for a consonant-final name: such particles must be written "(으)로".
    # The pair forms i18n resolves after filling ("이(가)", "을(를)", ...) are the fix, not a glue.
    glued = re.compile(r"\}[’”*]*(으로|로|이|가|을|를|은|는|와|과)(?![\uac00-\ud7a3(])")
    bad = {k: v for k, v in i18n.STRINGS["ko"].items() if glued.search(v)}
    assert bad == {}


def test_blendshape_names_cover_all_52():
    names = [
        "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
        "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
        "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
        "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
        "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
        "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
        "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
        "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
        "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
        "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
    ]  # fmt: skip
    assert len(names) == 52
    for lang in i18n.LANGUAGES:
        plain = [i18n.blendshape_name(n, lang) for n in names]
        assert not set(plain) & set(names), "every blendshape gets plain words"
        assert len(set(plain)) == 52, "left and right stay distinguishable"
    assert i18n.blendshape_name("mouthSmileLeft") == "입꼬리 올리기 (미소) · 왼쪽"
    assert i18n.blendshape_name("jawLeft", "en") == "jaw to the left"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_chapter_has_a_lesson_with_three_sections(lang):
    chapters = sorted(p.stem for p in (ROOT / "lessons" / "ko").glob("*.md"))
    assert len(chapters) == 5
    for chapter in chapters:
        parts = i18n.load_lesson(chapter, lang)
        assert set(parts) == {"student", "teacher", "quiz"}, chapter
        answer = "정답" if lang == "ko" else "Answer"
        assert answer in parts["quiz"]


def test_cli_json(capsys):
    import json

    assert i18n._main(["--reasons", "--json", "--lang", "en"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["occluded_mouth"].startswith("The mouth is covered")
    assert i18n._main(["no.such.key"]) == 2
