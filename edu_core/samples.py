"""Privacy-safe synthetic sample faces: a deterministic painter of lifelike illustrated people.

Real photos of students cannot ship with the app, yet the lesson has to run before anyone
uploads a picture and the tests need faces whose truth is known. This module paints people
with numpy and PIL — a shaded head on a neck and shoulders, hair, eyes with whites, iris and
pupil, brows, a nose with shadows, lips — in front of a blurred place from the Korean data
set's ten background categories, then adds camera blur, light fall-off and sensor noise so
the MediaPipe face detector treats the result like a photo.

An expression is assembled from the lesson's "data pieces": eyebrow shape, eye opening and lip
shape, each with a strength. Every class recipe has a random intensity from subtle to strong
and overlaps with its neighbours the way real faces do (surprise and anger both widen the eyes,
sadness and hurt share raised inner brows). Each lesson class also comes in a few styles, some
of them less common (:data:`LESSON_STYLES`: a laugh or a smile with the eyes only, a shout, an
"O" mouth without raised brows ...), so a model trained on 20 images per class meets too few of
the rarer styles and makes visibly more mistakes than one trained on 60.

Public API (stable, used by ``edu_core.aihub_demo``):

- :class:`Identity`, :class:`Expression`, :class:`Person`, :class:`FaceSpec` — frozen specs
- :func:`random_identity`, :func:`expression_for`, :func:`random_person`, :func:`random_scene`,
  :func:`random_spec`, :func:`reject_spec` — draw specs from a ``numpy.random.Generator``
- :func:`render` — paint a spec at any size, returning :class:`Rendered` (RGB + true face boxes)
- :func:`sample_plan`, :func:`paint`, :func:`generate_samples` — the committed ``sample_images/``
- :func:`quality_report` — the quality gates measured with the real MediaPipe model and extractor
- CLI: ``python -m edu_core.samples --out sample_images --seed 7 [--json]``,
  ``python -m edu_core.samples check --dir sample_images [--json]`` and
  ``python -m edu_core.samples aihub --out DIR --per-class N [--seed S]``
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from edu_core.errors import EduError
from edu_core.labels import KOREAN7_CLASSES, KOREAN_NAMES, LESSON_CLASSES


class SampleError(EduError):
    """A sample could not be specified or written (bad class, bad size, bad folder)."""

    code = "sample_error"


AGE_GROUPS: tuple[str, ...] = ("child", "teen", "adult", "senior")
GENDERS: tuple[str, ...] = ("female", "male")

#: The Korean data set's ten place categories, used as painted backgrounds.
BACKGROUNDS: tuple[str, ...] = (
    "public_building",
    "transport",
    "shop_market",
    "sports_venue",
    "entertainment",
    "office_event",
    "nature",
    "city_street",
    "heritage_site",
    "home_lodging",
)

#: Occluders for rejection examples, grouped by the reason the extractor should give.
OCCLUDERS: dict[str, tuple[str, ...]] = {
    "occluded_mouth": ("mask", "hand", "scarf"),
    "occluded_eyes": ("sunglasses", "hat_brim", "hair_fringe"),
}

#: Rejection reasons the committed sample set has example folders for.
REJECT_REASONS: tuple[str, ...] = (
    "occluded_mouth",
    "occluded_eyes",
    "close_up",
    "cut_off",
    "multiple_faces",
    "no_face",
    "face_too_small",
    "blurry",
    "too_dark",
    "too_bright",
)

# Skin tones from very light to very dark (sRGB), with East Asian tones well covered.
_SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 226, 204),
    (247, 212, 185),
    (240, 200, 168),
    (232, 190, 150),
    (224, 178, 140),
    (212, 160, 120),
    (196, 140, 100),
    (170, 115, 80),
    (141, 92, 62),
    (112, 72, 48),
    (98, 66, 46),
    (82, 55, 40),
)
_HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (24, 20, 20),
    "dark_brown": (52, 36, 28),
    "brown": (92, 62, 40),
    "light_brown": (140, 100, 64),
    "blonde": (200, 165, 105),
    "auburn": (120, 50, 30),
    "grey": (150, 148, 145),
    "white": (215, 212, 205),
    "dyed_blue": (40, 60, 120),
}
# Brow geometry in face units, tuned so MediaPipe's browInnerUp/browDown stay low on neutral faces
_BROW_Y = -0.29  # brow centre line
_BD_INNER = 0.2  # how far the inner ends drop at full brow_down
_BD_ALL = 0.05  # how far the whole brow drops
_HAIR_STYLES: tuple[str, ...] = ("short", "buzz", "bob", "long", "ponytail", "curly", "bald")
_FACE_SHAPES: tuple[str, ...] = ("oval", "round", "square", "long", "heart")


@dataclass(frozen=True)
class Identity:
    """Everything that stays the same about one synthetic person across their photos."""

    id: str
    age_group: str = "adult"
    gender: str = "female"
    face_shape: str = "oval"
    skin: tuple[int, int, int] = (232, 190, 150)
    hair_style: str = "short"
    hair_colour: str = "black"
    eye_colour: tuple[int, int, int] = (60, 40, 25)
    brow_thickness: float = 1.0  # relative to the default
    eye_size: float = 1.0
    nose_width: float = 1.0
    mouth_width: float = 1.0
    lip_colour: tuple[int, int, int] = (180, 90, 90)
    glasses: bool = False
    clothes: tuple[int, int, int] = (60, 90, 140)
    brow_lift: float = 0.0  # brows sit this much higher (negative) or lower, face units
    jaw: float = 1.0  # width of the lower face relative to the default
    face_length: float = 1.0


@dataclass(frozen=True)
class Expression:
    """An expression as a mix of data pieces; every field is 0 (absent) to 1 (strong).

    ``smile`` and ``eye_open`` run from -1 to 1: a negative smile turns the mouth corners
    down, a negative eye opening narrows the eyes.
    """

    name: str = "neutral"
    intensity: float = 0.0
    brow_inner_up: float = 0.0
    brow_outer_up: float = 0.0
    brow_down: float = 0.0
    eye_open: float = 0.0
    smile: float = 0.0
    mouth_open: float = 0.0
    mouth_round: float = 0.0
    mouth_stretch: float = 0.0
    lip_press: float = 0.0
    cheek_raise: float = 0.0
    teeth: float = 0.0
    asymmetry: float = 0.0  # -1..1, one mouth corner higher than the other


@dataclass(frozen=True)
class Person:
    """One person placed in a picture. Positions and sizes are shares of the image."""

    identity: Identity
    expression: Expression = Expression()
    center: tuple[float, float] = (0.5, 0.45)  # face centre as (x, y) share of width/height
    face_share: float = 0.3  # face width / image width
    yaw: float = 0.0  # degrees, positive turns the face to the picture's right
    pitch: float = 0.0  # degrees, positive tilts the chin down
    roll: float = 0.0  # degrees, positive tilts clockwise
    gaze: tuple[float, float] = (0.0, 0.0)  # iris offset as a share of the eye size
    occluder: str = "none"


@dataclass(frozen=True)
class FaceSpec:
    """A complete picture: the people in it, the place behind them and the camera."""

    people: tuple[Person, ...]
    background: str = "home_lodging"
    seed: int = 0  # drives background details, hair strands and sensor noise
    light: tuple[float, float] = (-0.4, -0.5)  # direction the key light comes from (x, y)
    light_strength: float = 0.55
    warmth: float = 0.0  # -1 cool (blue) .. 1 warm (orange)
    exposure: float = 1.0  # multiplies the final brightness
    blur: float = 0.6  # camera blur sigma in output pixels at 640 px width
    noise: float = 3.0  # sensor noise sigma (0..255 scale)
    background_blur: float = 2.5  # depth of field, sigma at 640 px width
    auto_exposure: bool = True  # brighten a dimly lit main face like a phone camera does

    @property
    def main(self) -> Person | None:
        """The person the picture is about (the first one), or None for an empty scene."""
        return self.people[0] if self.people else None


@dataclass(frozen=True)
class Rendered:
    """A painted picture and the truth about it."""

    rgb: np.ndarray  # (H, W, 3) uint8
    face_box: tuple[int, int, int, int] | None  # main face (x0, y0, x1, y1), forehead to chin
    boxes: tuple[tuple[int, int, int, int], ...] = ()  # every face, main first


@dataclass(frozen=True)
class SampleConfig:
    """How the committed sample set is laid out."""

    train_per_class: int = 60
    test_per_class: int = 20
    rejects_per_reason: int = 16
    size: tuple[int, int] = (640, 480)
    face_share: tuple[float, float] = (0.22, 0.36)  # range of face width / image width
    jpeg_quality: int = 85
    contact_sheet: bool = True


# ---------------------------------------------------------------------------------------------
# Drawing specs from a random generator


def _pick(rng: np.random.Generator, items: Sequence, p: Sequence[float] | None = None):
    idx = int(rng.choice(len(items), p=None if p is None else np.asarray(p) / np.sum(p)))
    return items[idx]


def random_identity(
    rng: np.random.Generator, ident: str, *, age_group: str | None = None, gender: str | None = None
) -> Identity:
    """Draw a new person: face shape, skin tone, age group, gender presentation, hair, glasses."""
    age = age_group or _pick(rng, AGE_GROUPS, (0.25, 0.3, 0.3, 0.15))
    if age not in AGE_GROUPS:
        raise SampleError("sample_error", f"unknown age group {age!r}; allowed: {', '.join(AGE_GROUPS)}")
    sex = gender or _pick(rng, GENDERS)
    if sex not in GENDERS:
        raise SampleError("sample_error", f"unknown gender {sex!r}; allowed: {', '.join(GENDERS)}")
    if sex == "female":
        style = _pick(rng, _HAIR_STYLES, (0.12, 0.0, 0.28, 0.32, 0.18, 0.1, 0.0))
    else:
        style = _pick(rng, _HAIR_STYLES, (0.5, 0.18, 0.04, 0.03, 0.0, 0.15, 0.1 if age != "child" else 0.0))
    if age == "senior":
        colour = _pick(rng, ("grey", "white", "dark_brown", "black"), (0.45, 0.3, 0.1, 0.15))
    else:
        colour = _pick(
            rng,
            ("black", "dark_brown", "brown", "light_brown", "blonde", "auburn", "dyed_blue"),
            (0.45, 0.2, 0.12, 0.07, 0.08, 0.05, 0.03),
        )
    skin = _SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))]
    jitter = rng.integers(-8, 9, size=3)
    skin = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(skin, jitter, strict=True))
    dark_eyes = ((55, 35, 22), (40, 28, 20), (75, 50, 30))
    light_eyes = ((70, 110, 150), (80, 110, 70), (110, 80, 45))
    eye = _pick(rng, dark_eyes + light_eyes, (0.3, 0.3, 0.2, 0.07, 0.06, 0.07))
    lip_base = np.array(skin, float) * np.array([0.85, 0.55, 0.58]) + np.array([25, 5, 10])
    if sex == "female" and age in ("adult", "teen") and rng.random() < 0.5:
        lip_base = lip_base * 0.6 + np.array([190, 60, 80]) * 0.4  # lipstick
    lip = tuple(int(np.clip(c, 0, 255)) for c in lip_base)
    child = age == "child"
    return Identity(
        id=ident,
        age_group=age,
        gender=sex,
        face_shape=_pick(rng, _FACE_SHAPES, (0.3, 0.25 if not child else 0.5, 0.15, 0.15, 0.15)),
        skin=skin,
        hair_style=style,
        hair_colour=colour,
        eye_colour=eye,
        brow_thickness=float(rng.uniform(0.8, 1.35) * (1.15 if sex == "male" else 0.9)),
        eye_size=float(rng.uniform(0.88, 1.12) * (1.12 if child else 1.0)),
        nose_width=float(rng.uniform(0.85, 1.2) * (0.85 if child else 1.0)),
        mouth_width=float(rng.uniform(0.88, 1.12)),
        lip_colour=lip,
        glasses=bool(rng.random() < (0.1 if child else 0.22)),
        clothes=tuple(int(c) for c in rng.integers(25, 230, size=3)),
        jaw=float(rng.uniform(0.9, 1.1) * (1.06 if sex == "male" else 0.97)),
        face_length=float(rng.uniform(0.94, 1.06) * (0.94 if child else 1.0)),
    )


def _style(rng: np.random.Generator, styles: Sequence[tuple[str, float]]) -> str:
    """Pick one of a class's expression styles by its share of people."""
    return _pick(rng, [s for s, _ in styles], [p for _, p in styles])


#: How people show each lesson class, with the share of people who do it that way. The less
#: common styles matter for the lesson: 20 pictures per class hold only a handful of them, too
#: few to learn where they differ from a neighbouring class; 60 pictures hold three times as many.
LESSON_STYLES: Mapping[str, tuple[tuple[str, float], ...]] = MappingProxyType(
    {
        "joy": (("smile", 0.5), ("laugh", 0.3), ("eyes_only", 0.2)),
        "sadness": (("classic", 0.55), ("downcast", 0.3), ("brows_only", 0.15)),
        "surprise": (("full", 0.45), ("brows_eyes", 0.25), ("mouth_only", 0.3)),
        "anger": (("glare", 0.4), ("frown", 0.25), ("shout", 0.35)),
        "neutral": (("rest", 1.0),),
    }
)


def _recipe(name: str, k: float, rng: np.random.Generator) -> dict[str, float]:
    """The data pieces of one class at strength ``k`` (0 subtle .. 1 strong).

    Each lesson class comes in several styles (:data:`LESSON_STYLES`), as real people show
    the same feeling in different ways; some styles lie close to another class.
    """
    u = rng.uniform
    if name == "neutral":
        # a resting face is never perfectly still: a hint of a smile or frown, sleepy or alert eyes
        return {
            "smile": u(-0.12, 0.12),
            "eye_open": u(-0.2, 0.2),
            "brow_inner_up": u(0, 0.12),
            "brow_down": u(0, 0.08),
            "lip_press": u(0, 0.2),
        }
    if name == "joy":
        style = _style(rng, LESSON_STYLES["joy"])
        if style == "laugh":  # open mouth with teeth, eyes squeezed
            return {
                "smile": 0.5 + 0.5 * k,
                "cheek_raise": 0.4 + 0.6 * k,
                "eye_open": -(0.2 + 0.5 * k),
                "mouth_open": 0.25 + 0.5 * k,
                "teeth": 1.0,
                "mouth_stretch": 0.2 + 0.3 * k,
            }
        if style == "eyes_only":  # a warm look with the mouth barely moving: close to neutral
            return {
                "smile": 0.18 + 0.25 * k,
                "cheek_raise": 0.3 + 0.5 * k,
                "eye_open": -(0.1 + 0.3 * k),
            }
        return {  # closed-mouth smile, sometimes showing the upper teeth
            "smile": 0.3 + 0.6 * k,
            "cheek_raise": 0.2 + 0.6 * k,
            "eye_open": -0.35 * k,
            "teeth": 1.0 if rng.random() < 0.35 else 0.0,
            "mouth_stretch": 0.15 * k,
        }
    if name == "sadness":
        style = _style(rng, LESSON_STYLES["sadness"])
        if style == "downcast":  # heavy lids and a slight frown, brows only a little lifted
            return {
                "brow_inner_up": 0.15 + 0.3 * k,
                "smile": -(0.15 + 0.4 * k),
                "eye_open": -(0.3 + 0.35 * k),
                "lip_press": 0.2 * k,
            }
        if style == "brows_only":  # the worried inner brows, mouth nearly still
            return {
                "brow_inner_up": 0.5 + 0.5 * k,
                "smile": -0.15 * k,
                "eye_open": -0.15 * k,
            }
        return {
            "brow_inner_up": 0.35 + 0.65 * k,
            "smile": -(0.3 + 0.7 * k),
            "eye_open": -0.35 * k,
            "lip_press": 0.3 * k,
            "mouth_open": u(0, 0.15) * k,
        }
    if name == "surprise":
        style = _style(rng, LESSON_STYLES["surprise"])
        if style == "brows_eyes":  # brows up, eyes wide, mouth only just parted
            brows = 0.35 + 0.65 * k
            return {
                "brow_inner_up": brows,
                "brow_outer_up": brows,
                "eye_open": 0.25 + 0.65 * k,
                "mouth_open": u(0.0, 0.15) * k,
            }
        if style == "mouth_only":  # an "O" without raised brows: like a shout, but round and toothless
            return {
                "brow_inner_up": u(0.0, 0.15),
                "brow_outer_up": u(0.0, 0.15),
                "eye_open": 0.2 + 0.5 * k,
                "mouth_open": 0.3 + 0.5 * k,
                "mouth_round": u(0.45, 1.0),
            }
        brows = 0.25 + 0.75 * k
        return {
            "brow_inner_up": brows,
            "brow_outer_up": brows,
            "eye_open": 0.25 + 0.75 * k,
            "mouth_open": (0.2 + 0.8 * k) * u(0.5, 1.0),
            "mouth_round": u(0.3, 1.0),
        }
    if name == "anger":
        style = _style(rng, LESSON_STYLES["anger"])
        if style == "shout":  # wide eyes and an open, stretched mouth; brows only slightly lowered
            return {
                "brow_down": u(0.0, 0.15) + 0.1 * k,
                "eye_open": 0.3 + 0.6 * k,
                "mouth_open": 0.3 + 0.5 * k,
                "teeth": 1.0 if rng.random() < 0.7 else 0.0,
                "mouth_stretch": 0.3 + 0.4 * k,
                "smile": -(0.1 + 0.25 * k),
            }
        if style == "frown":  # cold anger: lowered brows over steady eyes, mouth still
            return {
                "brow_down": 0.35 + 0.6 * k,
                "eye_open": u(-0.1, 0.2) * k,
                "lip_press": 0.15 * k,
            }
        return {  # the glare: brows down and together, pressed lips
            "brow_down": 0.4 + 0.6 * k,
            "eye_open": u(0.0, 0.6) * k,
            "lip_press": 0.4 + 0.6 * k,
            "smile": -0.25 * k,
        }
    if name == "embarrassment":
        return {
            "brow_inner_up": 0.2 + 0.4 * k,
            "eye_open": 0.1 + 0.4 * k,
            "smile": u(0.05, 0.4) * k,
            "mouth_stretch": 0.3 + 0.5 * k,
            "asymmetry": u(-1, 1) * k,
            "lip_press": 0.3 * k,
        }
    if name == "anxiety":
        return {
            "brow_inner_up": 0.3 + 0.5 * k,
            "brow_down": 0.15 * k,
            "eye_open": 0.2 + 0.4 * k,
            "mouth_stretch": 0.3 + 0.5 * k,
            "lip_press": 0.3 + 0.4 * k,
            "smile": -0.25 * k,
        }
    if name == "hurt":
        return {
            "brow_inner_up": 0.4 + 0.5 * k,  # shares raised inner brows with sadness
            "brow_down": 0.2 * k,
            "eye_open": -0.4 * k,
            "smile": -(0.2 + 0.5 * k),
            "lip_press": 0.4 * k,
            "mouth_stretch": 0.25 * k,
        }
    raise SampleError(
        "sample_error",
        f"unknown expression {name!r}; allowed: {', '.join(sorted({*LESSON_CLASSES, *KOREAN7_CLASSES}))}",
    )


def expression_for(name: str, rng: np.random.Generator, *, intensity: float | None = None) -> Expression:
    """An expression of class ``name`` (a lesson or Korean-7 class id) with random strength.

    Small random leaks of the other pieces keep subtle examples close to neighbouring classes.
    """
    if intensity is not None:
        k = float(np.clip(intensity, 0.0, 1.0))
    elif name in LESSON_CLASSES:
        # more subtle than strong faces, as in everyday photos; a share sits close to neutral
        k = float(0.08 + 0.92 * rng.beta(1.3, 1.5))
    else:
        k = float(rng.uniform(0.15, 1.0))
    pieces = _recipe(name, k, rng)
    leak = {
        "brow_inner_up": abs(rng.normal(0, 0.08)),
        "brow_down": abs(rng.normal(0, 0.06)),
        "eye_open": rng.normal(0, 0.1),
        "smile": rng.normal(0, 0.06),
        "mouth_open": abs(rng.normal(0, 0.04)),
    }
    values = {key: pieces.get(key, 0.0) + leak.get(key, 0.0) for key in set(pieces) | set(leak)}
    clip = {key: (-1.0, 1.0) if key in ("smile", "eye_open", "asymmetry") else (0.0, 1.0) for key in values}
    values = {key: float(np.clip(v, *clip[key])) for key, v in values.items()}
    return Expression(name=name, intensity=round(k, 3), **values)


def random_person(
    rng: np.random.Generator,
    identity: Identity,
    expression: Expression,
    *,
    face_share: tuple[float, float] = (0.22, 0.36),
    max_yaw: float = 14.0,
) -> Person:
    """Place a person in the frame with a small random head pose and gaze."""
    share = float(rng.uniform(*face_share))
    # keep the whole head and hair inside a 4:3 frame (face units: half width = share / 2)
    s_w = share / 2
    s_h = s_w * 4 / 3
    x_lo, x_hi = 0.06 + 1.3 * s_w, 0.94 - 1.3 * s_w
    y_lo, y_hi = 0.04 + 1.6 * s_h, 0.9 - 1.3 * s_h
    cx = float(rng.uniform(x_lo, x_hi)) if x_hi > x_lo else 0.5
    cy = float(rng.uniform(y_lo, y_hi)) if y_hi > y_lo else (y_lo + y_hi) / 2
    return Person(
        identity=identity,
        expression=expression,
        center=(cx, cy),
        face_share=share,
        yaw=float(rng.uniform(-max_yaw, max_yaw)),
        pitch=float(rng.uniform(-8, 8)),
        roll=float(rng.uniform(-9, 9)),
        gaze=(float(rng.normal(0, 0.12)), float(rng.normal(0, 0.06))),
    )


def random_scene(
    rng: np.random.Generator, people: tuple[Person, ...], *, background: str | None = None
) -> FaceSpec:
    """Wrap people in a random place, light and camera."""
    ang = rng.uniform(-math.pi * 0.85, -math.pi * 0.15)
    return FaceSpec(
        people=people,
        background=background or _pick(rng, BACKGROUNDS),
        seed=int(rng.integers(0, 2**31 - 1)),
        light=(float(math.cos(ang)), float(math.sin(ang))),
        light_strength=float(rng.uniform(0.3, 0.7)),
        warmth=float(rng.uniform(-0.6, 0.8)),
        exposure=float(rng.uniform(0.85, 1.12)),
        blur=float(rng.uniform(0.35, 0.9)),
        noise=float(rng.uniform(1.5, 4.5)),
        background_blur=float(rng.uniform(1.5, 4.0)),
    )


def random_spec(
    rng: np.random.Generator,
    expression: str,
    *,
    classes: Literal["lesson", "korean7"] = "lesson",
    identity: Identity | None = None,
    age_group: str | None = None,
    gender: str | None = None,
    intensity: float | None = None,
    background: str | None = None,
    face_share: tuple[float, float] = (0.22, 0.36),
) -> FaceSpec:
    """One random picture of one person showing ``expression``.

    ``classes`` names the class set the expression must belong to; ``face_share`` is the range
    of face width / image width (MediaPipe's short-range detector needs about 0.15 or more).
    """
    allowed = LESSON_CLASSES if classes == "lesson" else KOREAN7_CLASSES
    if classes not in ("lesson", "korean7"):
        raise SampleError("sample_error", f"unknown class set {classes!r}; allowed: lesson, korean7")
    if expression not in allowed:
        raise SampleError(
            "sample_error", f"unknown {classes} class {expression!r}; allowed: {', '.join(allowed)}"
        )
    ident = identity or random_identity(
        rng, f"p{int(rng.integers(0, 10**8)):08d}", age_group=age_group, gender=gender
    )
    expr = expression_for(expression, rng, intensity=intensity)
    person = random_person(rng, ident, expr, face_share=face_share)
    return random_scene(rng, (person,), background=background)


# ---------------------------------------------------------------------------------------------
# The painter


def _rot(x: np.ndarray, y: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return x * c - y * s, x * s + y * c


class _Canvas:
    """A float RGB image that shapes are composited onto, one soft-edged mask at a time.

    Every shape only touches its own bounding box, so painting costs grow with the shape,
    not with the picture.
    """

    def __init__(self, rgb: np.ndarray) -> None:
        self.img = rgb.astype(np.float32)
        self.h, self.w = self.img.shape[:2]

    def _mask(
        self, draw_fn: Callable[[ImageDraw.ImageDraw, float, float], None], bbox: tuple, blur: float
    ) -> tuple[tuple[slice, slice], np.ndarray, tuple[int, int]] | None:
        pad = int(math.ceil(blur * 3)) + 2
        x0 = max(0, int(math.floor(bbox[0])) - pad)
        y0 = max(0, int(math.floor(bbox[1])) - pad)
        x1 = min(self.w, int(math.ceil(bbox[2])) + pad)
        y1 = min(self.h, int(math.ceil(bbox[3])) + pad)
        if x1 <= x0 or y1 <= y0:
            return None
        im = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw_fn(ImageDraw.Draw(im), x0, y0)
        if blur > 0.3:
            im = im.filter(ImageFilter.GaussianBlur(blur))
        m = np.asarray(im, dtype=np.float32) / 255.0
        return (slice(y0, y1), slice(x0, x1)), m, (x0, y0)

    def poly_mask(self, pts: np.ndarray, blur: float):
        def fn(d: ImageDraw.ImageDraw, ox: float, oy: float) -> None:
            d.polygon([(float(x - ox), float(y - oy)) for x, y in pts], fill=255)

        return self._mask(fn, (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()), blur)

    def line_mask(self, pts: np.ndarray, width: float, blur: float):
        def fn(d: ImageDraw.ImageDraw, ox: float, oy: float) -> None:
            d.line(
                [(float(x - ox), float(y - oy)) for x, y in pts], fill=255, width=max(1, int(round(width)))
            )

        r = width
        return self._mask(
            fn, (pts[:, 0].min() - r, pts[:, 1].min() - r, pts[:, 0].max() + r, pts[:, 1].max() + r), blur
        )

    def apply(self, mk, colour, alpha: float = 1.0, mode: str = "normal") -> None:
        """Blend ``colour`` (RGB tuple or a function of the pixel grid) through mask ``mk``."""
        if mk is None:
            return
        sl, m, (x0, y0) = mk
        m = m[..., None] * alpha
        region = self.img[sl]
        if callable(colour):
            yy, xx = np.mgrid[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]].astype(np.float32)
            col = colour(xx, yy)
        else:
            col = np.asarray(colour, np.float32)
        if mode == "multiply":
            region *= 1.0 - m + m * col
        else:
            region += (col - region) * m

    def fill(self, pts, colour, *, blur: float = 0.8, alpha: float = 1.0, mode: str = "normal") -> None:
        self.apply(self.poly_mask(np.asarray(pts, np.float32), blur), colour, alpha, mode)

    def stroke(
        self, pts, width, colour, *, blur: float = 0.8, alpha: float = 1.0, mode: str = "normal"
    ) -> None:
        self.apply(self.line_mask(np.asarray(pts, np.float32), width, blur), colour, alpha, mode)


def _ellipse(
    cx: float, cy: float, rx: float, ry: float, n: int = 40, t0: float = 0.0, t1: float = 2 * math.pi
):
    t = np.linspace(t0, t1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


class _Head:
    """Maps face coordinates to picture pixels for one person.

    Face units: x to the picture's right, y down, half the face width = 1, origin between
    the eyes and the mouth. A point's depth comes from an ellipsoid so that turning the head
    (yaw/pitch) moves the features across the face while the outline stays put.
    """

    def __init__(self, person: Person, width: int, height: int) -> None:
        self.p = person
        self.ident = person.identity
        self.scale = person.face_share * width / 2.0
        self.cx = person.center[0] * width
        self.cy = person.center[1] * height
        self.yaw = math.radians(person.yaw)
        self.pitch = math.radians(person.pitch)

    def depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 0.95 * np.sqrt(np.clip(1.0 - (x / 1.05) ** 2 - (y / 1.5) ** 2, 0.0, 1.0))

    def pts(self, xy, z: np.ndarray | float | None = None) -> np.ndarray:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        zz = self.depth(x, y) if z is None else np.broadcast_to(np.asarray(z, np.float64), x.shape)
        x1 = x * math.cos(self.yaw) + zz * math.sin(self.yaw)
        z1 = -x * math.sin(self.yaw) + zz * math.cos(self.yaw)
        y2 = y * math.cos(self.pitch) - z1 * math.sin(self.pitch) * 0.6
        xr, yr = _rot(x1, y2, self.p.roll)
        return np.stack([self.cx + self.scale * xr, self.cy + self.scale * yr], axis=1)

    def outline(self, n: int = 72, grow: float = 0.0) -> np.ndarray:
        """Face outline (forehead to chin) in face units."""
        shape = self.ident.face_shape
        e = self.p.expression
        chin = 1.3 * self.ident.face_length + 0.12 * e.mouth_open
        top = -1.45 * self.ident.face_length
        t = np.linspace(0, 2 * math.pi, n, endpoint=False)
        x = np.cos(t)
        y = np.sin(t)
        lower = y > 0
        taper = {"oval": 0.38, "round": 0.22, "square": 0.12, "long": 0.35, "heart": 0.55}[shape]
        taper = taper / self.ident.jaw
        xs = x * (1.0 + 0.05 * (shape == "round"))
        xs = np.where(lower, xs * (1.0 - taper * y**2 * (1.0 if shape != "square" else 0.7)), xs)
        if shape == "square":
            xs = np.sign(xs) * np.abs(xs) ** 0.8 * np.where(lower, 0.97, 1.0)
        if shape == "heart":
            xs = np.where(~lower, xs * 1.04, xs)
        ys = np.where(lower, y * chin, y * -top)
        if shape == "long":
            ys = ys * 1.05
        return np.stack([xs * (1 + grow), ys * (1 + grow)], axis=1)

    def face_box(self) -> tuple[float, float, float, float]:
        """The annotator-style face box: brow-top of forehead to chin, cheek to cheek."""
        o = self.outline()
        o = o[o[:, 1] > -1.0]
        p = self.pts(o, z=0.0)
        return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())


def _skin_shader(head: _Head, base: np.ndarray, light: tuple[float, float], strength: float):
    lx, ly = light
    lz = 0.9
    norm = math.sqrt(lx * lx + ly * ly + lz * lz)
    lx, ly, lz = lx / norm, ly / norm, lz / norm
    c, s = math.cos(math.radians(-head.p.roll)), math.sin(math.radians(-head.p.roll))

    def colour(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        u = (xx - head.cx) / head.scale
        v = (yy - head.cy) / head.scale
        u, v = u * c - v * s, u * s + v * c
        u = u - math.sin(head.yaw) * 0.35
        nz = np.sqrt(np.clip(1.0 - (u / 1.08) ** 2 - (v / 1.55) ** 2, 0.02, 1.0))
        nx, ny = u / 1.08, v / 1.55
        d = np.clip(nx * lx + ny * ly + nz * lz, 0.0, 1.0)
        shade = (1.0 - strength) + strength * d
        rim = np.clip(nz, 0, 1) ** 0.35
        return base[None, None, :] * (shade * (0.75 + 0.25 * rim))[..., None]

    return colour


def _hair_shapes(head: _Head) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Back hair (behind the head) and front hair (over the forehead), in face units."""
    style = head.ident.hair_style
    fl = head.ident.face_length
    top = -1.45 * fl
    if style == "bald":
        return None, None
    t = np.linspace(math.pi, 2 * math.pi, 40)
    vol = {"buzz": 0.04, "short": 0.14, "bob": 0.16, "long": 0.14, "ponytail": 0.1, "curly": 0.28}[style]
    cap_x = np.cos(t) * (1.05 + vol)
    cap_y = np.sin(t) * (-top + vol * 1.4)
    # back hair: cap plus whatever hangs down behind the face
    drop = {"buzz": 0.0, "short": 0.15, "bob": 1.0, "long": 2.1, "ponytail": 0.25, "curly": 0.6}[style]
    side_w = 1.05 + vol + (0.12 if style in ("long", "bob", "curly") else 0.0)
    back = np.concatenate(
        [
            [[-side_w, drop]],
            np.stack([cap_x * side_w / (1.05 + vol), cap_y], axis=1),
            [[side_w, drop]],
        ]
    )
    if style == "curly":
        ang = np.arctan2(back[:, 1], back[:, 0])
        back = back + 0.06 * np.stack([np.cos(ang), np.sin(ang)], 1) * np.sin(ang * 18)[:, None]
    # front hair: from temple to temple over the forehead, with the hairline shape per style
    hl = {"buzz": -1.0, "short": -0.95, "bob": -0.72, "long": -0.88, "ponytail": -1.0, "curly": -0.88}[style]
    xs = np.linspace(-1.02, 1.02, 30)
    if style == "bob":
        line = hl + 0.12 * np.abs(xs) - 0.03 * np.cos(xs * 9)
    elif style == "long":
        part = 0.25
        line = hl - 0.25 * np.exp(-((xs - part) ** 2) / 0.02) + 0.45 * np.abs(xs) ** 2
    else:
        line = hl + 0.35 * np.abs(xs) ** 2.2
    front_lower = np.stack([xs, line], axis=1)[::-1]
    cap = np.stack([cap_x, cap_y], axis=1)
    front = np.concatenate([cap, front_lower])
    return back, front


def _draw_person(cv: _Canvas, spec: FaceSpec, person: Person, rng: np.random.Generator) -> None:
    head = _Head(person, cv.w, cv.h)
    ident = person.identity
    e = person.expression
    s = head.scale
    skin = np.array(ident.skin, np.float32)
    hair = np.array(_HAIR_COLOURS[ident.hair_colour], np.float32)
    px = s / 100.0  # one "face pixel" at a face half-width of 100 px
    shader = _skin_shader(head, skin, spec.light, spec.light_strength)
    dark_skin = skin * 0.62
    fl = ident.face_length

    # shoulders and clothes
    clothes = np.array(ident.clothes, np.float32)
    sh = np.array(
        [[-3.2, 4.6], [-2.9, 2.4], [-2.2, 1.9], [-0.8, 1.62], [0.8, 1.62], [2.2, 1.9], [2.9, 2.4], [3.2, 4.6]]
    )
    shp = head.pts(sh, z=-0.3)
    cv.fill(
        shp,
        lambda xx, yy: clothes * (0.8 + 0.25 * np.clip((yy - shp[:, 1].min()) / (4 * s), 0, 1))[..., None],
        blur=1.5 * px,
    )
    cv.fill(
        head.pts([[-0.6, 1.72], [0.6, 1.72], [0.35, 2.1], [-0.35, 2.1]], z=-0.2), clothes * 0.55, blur=4 * px
    )
    # back hair sits behind neck and face
    back, front = _hair_shapes(head)
    if back is not None:
        cv.fill(head.pts(back, z=-0.2), hair * 0.8, blur=1.5 * px)
    # neck, with the chin's shadow
    neck = head.pts([[-0.5, 0.6], [0.5, 0.6], [0.52, 1.85], [0.2, 1.95], [-0.2, 1.95], [-0.52, 1.85]], z=-0.3)
    cv.fill(neck, skin * 0.82, blur=1.2 * px)
    cv.fill(
        head.pts(_ellipse(0, 1.25 * fl + 0.2, 0.6, 0.35), z=-0.1),
        (0.55, 0.55, 0.6),
        blur=10 * px,
        mode="multiply",
    )
    # ears
    for side in (-1, 1):
        ear = head.pts(_ellipse(side * 0.98, 0.05, 0.16, 0.3), z=0.0)
        cv.fill(ear, skin * 0.9, blur=1.2 * px)
        cv.fill(
            head.pts(_ellipse(side * 1.0, 0.07, 0.07, 0.18), z=0.0),
            (0.75, 0.7, 0.7),
            blur=3 * px,
            mode="multiply",
        )
    # the face itself, shaded like a lit ellipsoid
    out = head.outline()
    cv.fill(head.pts(out, z=0.0), shader, blur=1.0 * px)
    # cheeks: a warm blush and, when smiling, raised cheek highlights
    for side in (-1, 1):
        cv.fill(
            head.pts(_ellipse(side * 0.55, 0.45 - 0.12 * e.cheek_raise, 0.28, 0.2)),
            (1.0, 0.86, 0.84),
            blur=14 * px,
            alpha=0.5,
            mode="multiply",
        )
        if e.cheek_raise > 0.05:
            cv.fill(
                head.pts(_ellipse(side * 0.5, 0.3 - 0.1 * e.cheek_raise, 0.2, 0.12)),
                (1.12, 1.1, 1.08),
                blur=10 * px,
                alpha=e.cheek_raise,
                mode="multiply",
            )
    # eye sockets
    ey = -0.12
    brow_y = _BROW_Y + ident.brow_lift
    for side in (-1, 1):
        cv.fill(
            head.pts(_ellipse(side * 0.4, ey - 0.06, 0.3, 0.2)),
            (0.8, 0.74, 0.74),
            blur=9 * px,
            mode="multiply",
        )
    # nose: bridge shadow on the side away from the light, tip, nostrils, shadow below
    nw = 0.16 * ident.nose_width
    ns = 1 if spec.light[0] < 0 else -1  # shadow side
    bridge = [[ns * 0.1, -0.1], [ns * 0.16, 0.2], [ns * nw * 1.2, 0.42], [ns * 0.06, 0.4], [ns * 0.04, -0.1]]
    cv.fill(head.pts(bridge, z=1.0), (0.72, 0.68, 0.68), blur=6 * px, mode="multiply")
    cv.fill(
        head.pts(_ellipse(0, 0.38, nw * 0.8, 0.09), z=1.15), (1.1, 1.08, 1.06), blur=5 * px, mode="multiply"
    )
    for side in (-1, 1):
        cv.fill(
            head.pts(_ellipse(side * nw * 1.15, 0.42, 0.07, 0.09), z=1.0),
            (0.8, 0.76, 0.76),
            blur=3 * px,
            mode="multiply",
        )
        cv.fill(
            head.pts(_ellipse(side * nw * 0.5, 0.49, 0.055, 0.028), z=1.05),
            dark_skin * 0.45,
            blur=1.5 * px,
            alpha=0.9,
        )
    cv.fill(
        head.pts(_ellipse(0, 0.56, nw * 1.2, 0.05), z=1.0), (0.78, 0.74, 0.74), blur=4 * px, mode="multiply"
    )
    # nasolabial folds deepen with smiles and age
    fold = 0.15 + 0.6 * max(0.0, e.smile) * e.cheek_raise + (0.35 if ident.age_group == "senior" else 0.0)
    mw = (
        0.36
        * ident.mouth_width
        * (1 + 0.25 * e.mouth_stretch + 0.12 * max(0.0, e.smile) - 0.3 * e.mouth_round)
    )
    my = 0.82
    for side in (-1, 1):
        f = [[side * (nw + 0.12), 0.4], [side * (nw + 0.2), 0.58], [side * (mw + 0.06), my + 0.05]]
        cv.stroke(head.pts(f), 3 * px, (0.7, 0.62, 0.6), blur=3 * px, alpha=min(1.0, fold), mode="multiply")
    # forehead and brow lines
    if e.brow_outer_up + e.brow_inner_up > 0.8 or ident.age_group == "senior":
        a = 0.35 * min(1.0, e.brow_outer_up + e.brow_inner_up - 0.4) + (
            0.3 if ident.age_group == "senior" else 0
        )
        for i in range(3):
            yy = -0.78 - 0.1 * i
            cv.stroke(
                head.pts([[-0.45, yy + 0.02], [0, yy - 0.02], [0.45, yy + 0.02]]),
                2 * px,
                (0.78, 0.72, 0.72),
                blur=2 * px,
                alpha=min(1.0, a),
                mode="multiply",
            )
    if e.brow_down > 0.2:
        for side in (-1, 1):
            cv.stroke(
                head.pts([[side * 0.07, -0.5], [side * 0.05, -0.32]]),
                2.5 * px,
                (0.7, 0.64, 0.64),
                blur=2 * px,
                alpha=min(1.0, e.brow_down),
                mode="multiply",
            )

    _draw_eyes(cv, head, rng, ey, px)
    _draw_brows(cv, head, brow_y, hair, px)
    _draw_mouth(cv, head, mw, my, px, dark_skin)
    if ident.age_group == "senior":
        for side in (-1, 1):
            for i in range(2):
                cv.stroke(
                    head.pts([[side * 0.66, ey + 0.02 * i], [side * 0.78, ey - 0.05 + 0.08 * i]]),
                    1.5 * px,
                    (0.8, 0.75, 0.75),
                    blur=1.5 * px,
                    mode="multiply",
                )

    # front hair with a few strands of texture
    if front is not None:
        fp = head.pts(front, z=0.3)
        cv.fill(
            fp,
            # lit from above: the crown is brighter than the hair nearer the forehead
            lambda xx, yy: hair * (1.25 - 0.35 * np.clip((yy - fp[:, 1].min()) / (0.8 * s), 0, 1))[..., None],
            blur=1.2 * px,
        )
        for _ in range(14):
            x0 = rng.uniform(-0.8, 0.8)
            strand = [[x0, -1.25 * fl], [x0 * 1.1 + rng.uniform(-0.1, 0.1), -1.0 * fl]]
            cv.stroke(
                head.pts(strand, z=0.4),
                1.5 * px,
                (1.25, 1.25, 1.25),
                blur=1.0 * px,
                alpha=0.25,
                mode="multiply",
            )
    if ident.glasses and person.occluder != "sunglasses":
        _draw_glasses(cv, head, ey, px, lenses=None)
    _draw_occluder(cv, head, person, px, rng, hair)


def _draw_eyes(cv: _Canvas, head: _Head, rng: np.random.Generator, ey: float, px: float) -> None:
    ident = head.ident
    e = head.p.expression
    ew = 0.2 * ident.eye_size
    open_ = 0.085 * ident.eye_size * (1.0 + 0.55 * e.eye_open if e.eye_open > 0 else 1.0 + 0.55 * e.eye_open)
    lower = 0.05 * ident.eye_size * (1.0 - 0.5 * e.cheek_raise)
    iris_r = 0.085 * ident.eye_size
    for side in (-1, 1):
        ex = side * 0.4
        t = np.linspace(-1, 1, 24)
        # inner corner (towards the nose) sits a touch lower than the outer corner
        tilt = -0.02 * side * t * side
        up_y = ey - open_ * (1 - t**2) ** 0.7 + tilt - 0.015 * (t * side)
        lo_y = ey + lower * (1 - t**2) ** 0.9 + tilt
        upper = np.stack([ex + ew * t, up_y], 1)
        lower_lid = np.stack([ex + ew * t[::-1], lo_y[::-1]], 1)
        opening = head.pts(np.concatenate([upper, lower_lid]))
        # eyelid crease and upper-lid shadow
        crease = np.stack([ex + ew * 1.05 * t, up_y - 0.055 - 0.02 * (1 - t**2)], 1)
        cv.stroke(head.pts(crease), 2.2 * px, (0.75, 0.68, 0.68), blur=2.5 * px, mode="multiply")
        mk = cv.poly_mask(opening, 0.8 * px)
        cv.apply(mk, (236, 232, 226))
        if mk is None:
            continue
        # iris and pupil, clipped to the opening
        gx, gy = head.p.gaze
        ic = head.pts([[ex + gx * ew, ey + gy * ew - 0.005]])[0]
        r = iris_r * head.scale
        sl, m, (x0, y0) = mk
        yy, xx = np.mgrid[sl[0], sl[1]].astype(np.float32)
        d = np.hypot(xx - ic[0], yy - ic[1])
        iris = np.clip((r - d) / max(1.0, 0.8 * px) + 0.5, 0, 1) * m
        eyec = np.array(ident.eye_colour, np.float32)
        col = eyec[None, None, :] * (0.7 + 0.5 * np.clip(d / r, 0, 1))[..., None]
        region = cv.img[sl]
        region += (col - region) * iris[..., None]
        pupil = np.clip((0.45 * r - d) / max(1.0, 0.8 * px) + 0.5, 0, 1) * m
        region += (np.array([10, 8, 8], np.float32) - region) * pupil[..., None]
        hl = np.clip(
            (0.16 * r - np.hypot(xx - ic[0] + 0.3 * r, yy - ic[1] + 0.3 * r)) / max(1.0, px) + 0.5, 0, 1
        )
        region += (np.array([250, 250, 250], np.float32) - region) * (hl * m * 0.9)[..., None]
        # upper lid shadow on the eyeball, lashes, lower lid line
        cv.stroke(head.pts(upper), 3.2 * px, (35, 25, 22), blur=0.9 * px, alpha=0.95)
        cv.stroke(head.pts(lower_lid), 1.4 * px, (0.7, 0.6, 0.6), blur=1.0 * px, mode="multiply")
        # the top of the eyeball is shaded by the lid
        shade = head.pts(np.concatenate([upper, upper[::-1] + [0, open_ * 0.5]]))
        cv.fill(shade, (0.78, 0.78, 0.8), blur=1.5 * px, mode="multiply")


def _draw_brows(cv: _Canvas, head: _Head, brow_y: float, hair: np.ndarray, px: float) -> None:
    ident = head.ident
    e = head.p.expression
    colour = np.minimum(hair * 0.9 + 10, np.array(ident.skin, np.float32) * 0.45)
    if ident.hair_colour in ("grey", "white"):
        colour = np.array([110, 105, 100], np.float32)
    thick = 0.06 * ident.brow_thickness
    for side in (-1, 1):
        t = np.linspace(0, 1, 16)  # 0 inner .. 1 outer
        inner_x = 0.14 - 0.05 * e.brow_down
        x = side * (inner_x + (0.78 - inner_x) * t)
        raise_all = 0.16 * e.brow_outer_up
        y = (
            brow_y
            - 0.07 * np.sin(np.pi * np.clip(t * 0.9 + 0.05, 0, 1)) * (1 + 0.6 * e.brow_outer_up)
            - raise_all
            - 0.2 * e.brow_inner_up * (1 - t) ** 1.5
            + 0.06 * e.brow_inner_up * t**2  # outer ends drop when the inner ends rise
            + _BD_INNER * e.brow_down * (1 - t) ** 1.2
            + _BD_ALL * e.brow_down
            + 0.04 * (t**2)
        )
        w = thick * (1.15 - 0.6 * t)
        top = np.stack([x, y - w * 0.5], 1)
        bot = np.stack([x, y + w * 0.5], 1)[::-1]
        cv.fill(head.pts(np.concatenate([top, bot])), colour, blur=1.4 * px, alpha=0.88)


def _draw_mouth(cv: _Canvas, head: _Head, mw: float, my: float, px: float, dark_skin: np.ndarray) -> None:
    ident = head.ident
    e = head.p.expression
    lip = np.array(ident.lip_colour, np.float32)
    n = 33
    t = np.linspace(-1, 1, n)
    corner_up = 0.14 * e.smile  # positive = corners up
    asym = 0.05 * e.asymmetry * t
    # the line where the lips meet, bending with the smile
    centre_line = my - corner_up * np.abs(t) ** 1.6 + asym
    gap = (
        (0.07 + 0.36 * e.mouth_open)
        * (1 - t**2) ** (0.6 - 0.25 * e.mouth_round)
        * (1 if e.mouth_open > 0.04 else 0)
    )
    th_u = (0.075 - 0.035 * e.lip_press) * (1 - t**2) ** 0.5 + 0.005
    th_l = (0.1 - 0.045 * e.lip_press) * (1 - t**2) ** 0.6 + 0.005
    x = t * mw
    open_top = centre_line - gap * 0.2
    open_bot = centre_line + gap * 0.8
    bow = 0.018 * np.exp(-((t * 4) ** 2))  # cupid's bow dip in the middle
    upper_top = open_top - th_u - 0.01 + bow
    lower_bot = open_bot + th_l
    # shadow under the lower lip
    cv.fill(
        head.pts(_ellipse(0, my + 0.2 + 0.8 * gap.max(), mw * 0.55, 0.06), z=0.9),
        (0.8, 0.74, 0.74),
        blur=5 * px,
        mode="multiply",
    )
    lips = np.concatenate([np.stack([x, upper_top], 1), np.stack([x, lower_bot], 1)[::-1]])
    lips_p = head.pts(lips)

    def lip_shader(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        rel = (yy - head.pts([[0, my]])[0, 1]) / head.scale
        return lip[None, None, :] * (0.85 + 0.3 * np.clip(rel * 6 + 0.3, 0, 1))[..., None]

    cv.fill(lips_p, lip_shader, blur=1.0 * px)
    if gap.max() > 0.01:
        hole = np.concatenate([np.stack([x, open_top], 1), np.stack([x, open_bot], 1)[::-1]])
        hole_p = head.pts(hole)
        cv.fill(hole_p, (45, 20, 22), blur=0.8 * px)
        if e.teeth > 0.5:
            teeth = np.concatenate(
                [
                    np.stack([x * 0.9, open_top], 1),
                    np.stack([x * 0.9, open_top + np.minimum(gap, 0.075)], 1)[::-1],
                ]
            )
            cv.fill(head.pts(teeth), (232, 228, 218), blur=0.8 * px)
            if gap.max() > 0.12:
                lt = np.concatenate(
                    [
                        np.stack([x * 0.75, open_bot - np.minimum(gap * 0.3, 0.04)], 1),
                        np.stack([x * 0.75, open_bot], 1)[::-1],
                    ]
                )
                cv.fill(head.pts(lt), (210, 205, 195), blur=0.8 * px, alpha=0.8)
        cv.stroke(
            head.pts(np.stack([x, open_top], 1)), 1.5 * px, (0.6, 0.5, 0.5), blur=0.8 * px, mode="multiply"
        )
    else:
        cv.stroke(
            head.pts(np.stack([x, centre_line], 1)),
            2.2 * px,
            (0.45, 0.3, 0.3),
            blur=0.9 * px,
            mode="multiply",
        )
    # corner dimples give the mouth corners' direction away even on dark lips
    for side in (-1, 1):
        cx = side * mw
        cy = centre_line[0 if side < 0 else -1]
        cv.fill(
            head.pts(_ellipse(cx + side * 0.015, cy, 0.03, 0.025)),
            (0.62, 0.55, 0.55),
            blur=2 * px,
            mode="multiply",
        )
    # highlight on the lower lip
    cv.fill(
        head.pts(_ellipse(0, (open_bot[n // 2] + lower_bot[n // 2]) / 2, mw * 0.35, 0.015)),
        (1.15, 1.12, 1.1),
        blur=2.5 * px,
        alpha=0.8,
        mode="multiply",
    )


def _draw_glasses(cv: _Canvas, head: _Head, ey: float, px: float, lenses: tuple | None) -> None:
    frame = (30, 30, 34) if lenses is None else (15, 15, 18)
    for side in (-1, 1):
        rim = head.pts(_ellipse(side * 0.42, ey + 0.01, 0.28, 0.19, n=48), z=1.0)
        if lenses is not None:
            cv.fill(rim, lenses, blur=1.0 * px, alpha=0.96)
            cv.fill(
                head.pts(_ellipse(side * 0.36, ey - 0.06, 0.09, 0.04), z=1.0),
                (90, 95, 105),
                blur=3 * px,
                alpha=0.5,
            )
        cv.stroke(
            np.concatenate([rim, rim[:1]]), 2.6 * px if lenses is None else 5 * px, frame, blur=0.8 * px
        )
        cv.stroke(
            head.pts([[side * 0.7, ey - 0.02], [side * 1.0, ey - 0.05]], z=0.4),
            2.5 * px,
            frame,
            blur=0.8 * px,
        )
    cv.stroke(
        head.pts([[-0.14, ey - 0.03], [0, ey - 0.06], [0.14, ey - 0.03]], z=1.05),
        2.5 * px,
        frame,
        blur=0.8 * px,
    )


def _draw_occluder(
    cv: _Canvas, head: _Head, person: Person, px: float, rng: np.random.Generator, hair
) -> None:
    occ = person.occluder
    fl = head.ident.face_length
    if occ == "none":
        return
    if occ == "mask":
        col = np.array(
            _pick(rng, ((235, 238, 242), (150, 190, 225), (40, 40, 45), (225, 205, 215))), np.float32
        )
        pts = [
            [-1.0, 0.3],
            [-0.5, 0.18],
            [0, 0.14],
            [0.5, 0.18],
            [1.0, 0.3],
            [0.85, 0.85],
            [0.4, 1.2 * fl],
            [-0.4, 1.2 * fl],
            [-0.85, 0.85],
        ]
        mp = head.pts(pts, z=1.0)
        cv.fill(
            mp,
            lambda xx, yy: (
                col * (0.85 + 0.15 * np.clip((yy - mp[:, 1].min()) / (head.scale * 0.3), 0, 1))[..., None]
            ),
            blur=1.0 * px,
        )
        for i in range(3):
            yy = 0.45 + 0.2 * i
            cv.stroke(
                head.pts([[-0.8, yy], [0.8, yy]], z=1.0),
                1.5 * px,
                (0.85, 0.85, 0.88),
                blur=1.5 * px,
                mode="multiply",
            )
        for side in (-1, 1):
            cv.stroke(head.pts([[side * 0.95, 0.32], [side * 1.02, 0.0]], z=0.2), 2 * px, col * 0.9, blur=px)
    elif occ == "scarf":
        col = np.array(_pick(rng, ((160, 40, 50), (60, 80, 130), (90, 90, 90), (200, 170, 90))), np.float32)
        pts = [[-1.5, 0.3], [-0.6, 0.2], [0, 0.25], [0.6, 0.2], [1.5, 0.3], [1.7, 1.9], [-1.7, 1.9]]
        cv.fill(head.pts(pts, z=1.0), col, blur=1.2 * px)
        for i in range(6):
            x0 = -1.2 + 0.45 * i
            cv.stroke(
                head.pts([[x0, 0.3], [x0 + 0.2, 1.8]], z=1.0),
                3 * px,
                (0.75, 0.75, 0.75),
                blur=3 * px,
                mode="multiply",
            )
    elif occ == "hand":
        skin = np.array(head.ident.skin, np.float32) * 0.97
        palm = head.pts(_ellipse(0.05, 0.95, 0.62, 0.42), z=1.2)
        cv.fill(palm, skin, blur=1.2 * px)
        for i in range(4):
            fx = -0.5 + 0.3 * i
            finger = head.pts(_ellipse(fx, 0.62, 0.13, 0.34), z=1.2)
            cv.fill(finger, skin * (0.97 + 0.03 * i), blur=1.0 * px)
            cv.stroke(
                head.pts([[fx + 0.14, 0.4], [fx + 0.14, 0.85]], z=1.2),
                2 * px,
                (0.75, 0.7, 0.7),
                blur=1.5 * px,
                mode="multiply",
            )
        cv.fill(head.pts(_ellipse(0.75, 1.1, 0.3, 0.5), z=1.2), skin * 0.95, blur=1.2 * px)
    elif occ == "sunglasses":
        _draw_glasses(cv, head, -0.12, px, lenses=(18, 18, 22))
    elif occ == "hat_brim":
        col = np.array(_pick(rng, ((30, 30, 40), (150, 30, 30), (200, 190, 160), (40, 70, 50))), np.float32)
        # the brim's shadow darkens the eyes first, then the cap and brim are painted over it
        cv.fill(
            head.pts(
                [
                    [-1.05, -0.32],
                    [1.05, -0.32],
                    [1.0, 0.08],
                    [0.5, 0.12],
                    [0, 0.14],
                    [-0.5, 0.12],
                    [-1.0, 0.08],
                ]
            ),
            (0.2, 0.2, 0.24),
            blur=3 * px,
            mode="multiply",
        )
        crown = head.pts(_ellipse(0, -0.3, 1.12, 1.35 * fl, t0=math.pi, t1=2 * math.pi), z=0.4)
        cv.fill(
            crown,
            lambda xx, yy: (
                col * (0.75 + 0.35 * np.clip((yy - crown[:, 1].min()) / (1.4 * head.scale), 0, 1))[..., None]
            ),
            blur=1.2 * px,
        )
        brim = head.pts(_ellipse(0, -0.24, 1.25, 0.13), z=1.3)
        cv.fill(brim, col * 0.7, blur=1.2 * px)
    elif occ == "hair_fringe":
        # a heavy fringe combed down over both eyes; the painter keeps such hair dark
        dark = np.minimum(hair, np.array([60, 45, 35], np.float32))
        xs = np.linspace(1.08, -1.08, 25)
        tips = 0.1 + 0.06 * np.sin(xs * 23.0) + 0.04 * np.cos(xs * 7.0)
        edge = np.stack([xs, tips], 1)
        cap = _ellipse(0, -0.2, 1.12, 1.3 * fl, t0=math.pi, t1=2 * math.pi, n=30)
        fp = head.pts(np.concatenate([cap, edge]), z=1.05)
        cv.fill(fp, dark, blur=1.0 * px)
        for _ in range(30):
            x0 = rng.uniform(-1.0, 1.0)
            cv.stroke(
                head.pts([[x0, -0.9], [x0 + rng.uniform(-0.1, 0.1), 0.08]], z=1.1),
                1.4 * px,
                (1.5, 1.5, 1.5),
                blur=px,
                alpha=0.2,
                mode="multiply",
            )
    else:
        raise SampleError("sample_error", f"unknown occluder {occ!r}")


# ---------------------------------------------------------------------------------------------
# Backgrounds: ten painted places


_PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "public_building": ((205, 205, 200), (170, 165, 150), (120, 125, 130), (90, 110, 140)),
    "transport": ((180, 185, 190), (80, 90, 100), (220, 200, 60), (60, 120, 170)),
    "shop_market": ((230, 200, 150), (200, 60, 50), (60, 140, 80), (250, 230, 180)),
    "sports_venue": ((70, 140, 70), (200, 80, 60), (220, 220, 220), (40, 70, 150)),
    "entertainment": ((40, 30, 60), (200, 50, 120), (250, 200, 80), (60, 150, 220)),
    "office_event": ((225, 225, 220), (150, 160, 170), (60, 70, 90), (180, 150, 110)),
    "nature": ((140, 190, 235), (70, 130, 60), (40, 90, 40), (120, 100, 70)),
    "city_street": ((160, 175, 195), (110, 110, 115), (170, 150, 130), (70, 75, 85)),
    "heritage_site": ((150, 190, 225), (150, 50, 40), (80, 110, 80), (200, 180, 140)),
    "home_lodging": ((235, 225, 205), (160, 120, 80), (200, 190, 170), (100, 140, 160)),
}


def _background(name: str, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Paint a place from one of the ten background categories at (w, h)."""
    if name not in _PALETTES:
        raise SampleError("sample_error", f"unknown background {name!r}; allowed: {', '.join(BACKGROUNDS)}")
    pal = [np.array(c, np.float32) + rng.normal(0, 10, 3) for c in _PALETTES[name]]
    im = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(im)
    horizon = int(h * rng.uniform(0.45, 0.75))

    def col(i: int, jit: float = 18) -> tuple[int, int, int]:
        c = pal[i % len(pal)] + rng.normal(0, jit, 3)
        return tuple(int(v) for v in np.clip(c, 0, 255))

    # sky/wall and floor/ground as vertical gradients
    yy = np.linspace(0, 1, h)[:, None, None]
    top = pal[0] * (1.08 - 0.2 * yy)
    arr = np.broadcast_to(top, (h, w, 3)).copy()
    floor = pal[1] if name not in ("nature", "heritage_site") else pal[2]
    arr[horizon:] = floor * (0.75 + 0.3 * np.linspace(0, 1, h - horizon)[:, None, None])
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    if name in ("nature",):
        for _ in range(int(rng.integers(4, 9))):
            x = rng.uniform(0, w)
            tw = rng.uniform(0.08, 0.2) * w
            th = rng.uniform(0.3, 0.6) * h
            d.rectangle([x - tw * 0.08, horizon - th * 0.4, x + tw * 0.08, horizon + 10], fill=col(3))
            d.ellipse([x - tw, horizon - th, x + tw, horizon - th * 0.3], fill=col(2, 25))
        d.polygon(
            [(0, horizon), (w * 0.3, horizon - h * 0.2), (w * 0.7, horizon - 0.05 * h), (w, horizon)],
            fill=col(2, 10),
        )
    elif name in ("city_street", "public_building", "heritage_site"):
        x = -rng.uniform(0, 0.1) * w
        while x < w:
            bw = rng.uniform(0.12, 0.3) * w
            bh = rng.uniform(0.25, 0.65) * h
            c = col(1 if name != "heritage_site" else 3)
            d.rectangle([x, horizon - bh, x + bw, horizon], fill=c)
            if name == "heritage_site":
                d.polygon(
                    [
                        (x - bw * 0.15, horizon - bh),
                        (x + bw / 2, horizon - bh - 0.12 * h),
                        (x + bw * 1.15, horizon - bh),
                    ],
                    fill=col(1),
                )
                d.rectangle([x + bw * 0.1, horizon - bh * 0.9, x + bw * 0.18, horizon], fill=col(1))
                d.rectangle([x + bw * 0.82, horizon - bh * 0.9, x + bw * 0.9, horizon], fill=col(1))
            else:
                # tall panes that mirror the sky: dark square windows in pairs look like eyes to
                # a face detector, which real glass facades rarely do
                glass = 0.5 * pal[0] + np.array([100.0, 105.0, 112.0])
                for wy in np.arange(horizon - bh + 10, horizon - 15, max(14, h * 0.075)):
                    for wx in np.arange(x + 6, x + bw - 12, max(10, w * 0.035)):
                        c = tuple(int(v) for v in np.clip(glass + rng.normal(0, 12, 3), 0, 255))
                        d.rectangle([wx, wy, wx + w * 0.022, wy + h * 0.055], fill=c)
            x += bw + rng.uniform(0, 0.05) * w
    elif name in ("transport",):
        d.rectangle([0, h * 0.15, w, h * 0.22], fill=col(2))
        for _ in range(int(rng.integers(3, 6))):
            x = rng.uniform(0, w)
            d.rectangle([x, h * 0.25, x + w * rng.uniform(0.1, 0.2), horizon - h * 0.05], fill=col(3))
        d.line([(0, horizon), (w, horizon)], fill=col(2), width=max(2, h // 60))
    elif name in ("shop_market", "office_event", "home_lodging"):
        for _ in range(int(rng.integers(3, 7))):
            x = rng.uniform(-0.1, 1.0) * w
            y = rng.uniform(0.05, 0.6) * h
            sw = rng.uniform(0.1, 0.35) * w
            sh_ = rng.uniform(0.1, 0.3) * h
            d.rectangle([x, y, x + sw, y + sh_], fill=col(int(rng.integers(1, 4))))
            if name == "shop_market":
                for _ in range(int(rng.integers(3, 8))):
                    ox = x + rng.uniform(0, sw)
                    oy = y + rng.uniform(0, sh_)
                    r = rng.uniform(0.01, 0.03) * w
                    d.ellipse([ox - r, oy - r, ox + r, oy + r], fill=col(int(rng.integers(0, 4)), 40))
        if name == "home_lodging":
            x = rng.uniform(0.1, 0.8) * w
            d.rectangle([x, h * 0.1, x + w * 0.18, h * 0.45], fill=(200, 220, 235))
            d.rectangle([x, h * 0.1, x + w * 0.18, h * 0.45], outline=col(1), width=max(2, w // 120))
    elif name in ("sports_venue",):
        for i in range(6):
            y = horizon - (i + 1) * h * 0.06
            d.rectangle([0, y, w, y + h * 0.04], fill=col(int(i % 3) + 1))
        d.line([(0, horizon + h * 0.1), (w, horizon + h * 0.05)], fill=(240, 240, 240), width=max(2, h // 80))
    elif name in ("entertainment",):
        for _ in range(int(rng.integers(6, 14))):
            x, y = rng.uniform(0, w), rng.uniform(0, h * 0.6)
            r = rng.uniform(0.01, 0.05) * w
            d.ellipse([x - r, y - r, x + r, y + r], fill=col(int(rng.integers(1, 4)), 30))
    out = np.asarray(im, np.float32)
    # large soft light blobs make the scene less flat
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lx, ly = rng.uniform(0, w), rng.uniform(0, h * 0.6)
    glow = np.exp(-(((xx - lx) / (0.6 * w)) ** 2 + ((yy - ly) / (0.6 * h)) ** 2))
    out = out * (0.85 + 0.3 * glow[..., None])
    return out


# ---------------------------------------------------------------------------------------------
# Rendering


def _work_size(size: tuple[int, int]) -> tuple[int, int]:
    """Paint at twice the size for anti-aliasing, but never more than 1600 px on a side (speed)."""
    w, h = size
    f = min(2.0, 1600 / max(w, h))
    return max(32, int(round(w * f))), max(32, int(round(h * f)))


def render(spec: FaceSpec, *, size: tuple[int, int] = (640, 480)) -> Rendered:
    """Paint ``spec`` as a ``size = (width, height)`` RGB picture.

    The same spec and size always give the same pixels. The returned boxes are the true face
    boxes (forehead to chin) in output pixels; people are painted from the back of the
    picture to the front in the order given, the first one last so it is never hidden.
    """
    w, h = int(size[0]), int(size[1])
    if w < 32 or h < 32 or w > 8192 or h > 8192:
        raise SampleError("sample_error", f"size {size} out of range 32..8192")
    rng = np.random.default_rng(spec.seed)
    ww, wh = _work_size((w, h))
    bg_small = _background(spec.background, max(32, ww // 4), max(32, wh // 4), rng)
    bg = Image.fromarray(np.clip(bg_small, 0, 255).astype(np.uint8)).resize((ww, wh), Image.BILINEAR)
    bb = spec.background_blur * ww / 640
    if bb > 0.3:
        bg = bg.filter(ImageFilter.GaussianBlur(bb))
    cv = _Canvas(np.asarray(bg))
    boxes: list[tuple[int, int, int, int]] = []
    f = w / ww
    for person in reversed(spec.people):
        _draw_person(cv, spec, person, np.random.default_rng([spec.seed, len(boxes)]))
    for person in spec.people:
        x0, y0, x1, y1 = _Head(person, ww, wh).face_box()
        boxes.append((int(round(x0 * f)), int(round(y0 * f)), int(round(x1 * f)), int(round(y1 * f))))
    img = cv.img
    # light fall-off across the frame and the colour of the light
    yy, xx = np.mgrid[0:wh, 0:ww].astype(np.float32)
    gx, gy = spec.light
    ramp = 1.0 + 0.12 * (-(xx / ww - 0.5) * gx * 2 - (yy / wh - 0.5) * gy * 2)
    vign = 1.0 - 0.25 * (((xx / ww - 0.5) ** 2 + (yy / wh - 0.5) ** 2) * 2)
    tint = np.array([1 + 0.06 * spec.warmth, 1.0, 1 - 0.08 * spec.warmth], np.float32)
    img = img * (ramp * vign)[..., None] * tint
    if spec.auto_exposure and spec.people:
        x0, y0, x1, y1 = (int(round(v / f)) for v in boxes[0])
        face = img[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
        if face.size:
            luma = float((face @ np.array([0.299, 0.587, 0.114], np.float32)).mean())
            img = img * float(np.clip(105.0 / max(luma, 1.0), 1.0, 1.7))
    img = img * spec.exposure
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if (ww, wh) != (w, h):
        out = out.resize((w, h), Image.LANCZOS if ww > w else Image.BICUBIC)
    sigma = spec.blur * w / 640
    if sigma > 0.2:
        out = out.filter(ImageFilter.GaussianBlur(sigma))
    arr = np.asarray(out, np.float32)
    if spec.noise > 0:
        arr = arr + rng.normal(0.0, spec.noise, arr.shape).astype(np.float32)
    rgb = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    return Rendered(rgb=rgb, face_box=boxes[0] if boxes else None, boxes=tuple(boxes))


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes without timestamps or other varying metadata (byte-for-byte reproducible)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# The committed sample set

LABEL_COLUMNS: tuple[str, ...] = (
    "file",
    "class",
    "identity",
    "age_group",
    "gender",
    "intensity",
    "background",
    "occluder",
    "expected_reason",
    "split",
)


@dataclass(frozen=True)
class PlannedImage:
    """One file of the sample set: where it goes, how to paint it and its labels.csv row."""

    file: str  # path relative to the sample folder, with forward slashes
    spec: FaceSpec
    size: tuple[int, int]
    row: dict[str, str] = field(default_factory=dict)


def _identity_for(seed: int, index: int, name: str) -> Identity:
    rng = np.random.default_rng([seed, 1, index])
    age = AGE_GROUPS[index % len(AGE_GROUPS)]
    gender = GENDERS[(index // len(AGE_GROUPS)) % len(GENDERS)]
    return random_identity(rng, name, age_group=age, gender=gender)


def _row(
    plan_file: str, cls: str, person: Person | None, spec: FaceSpec, reason: str, split: str
) -> dict[str, str]:
    return {
        "file": plan_file,
        "class": cls,
        "identity": person.identity.id if person else "",
        "age_group": person.identity.age_group if person else "",
        "gender": person.identity.gender if person else "",
        "intensity": f"{person.expression.intensity:.3f}" if person else "",
        "background": spec.background,
        "occluder": person.occluder if person else "none",
        "expected_reason": reason,
        "split": split,
    }


def _expression_plan(seed: int, cfg: SampleConfig) -> list[PlannedImage]:
    """Train and test faces: every identity shows four of the five classes, in one split only."""
    plan: list[PlannedImage] = []
    n_cls = len(LESSON_CLASSES)
    for split, quota, offset in (("train", cfg.train_per_class, 0), ("test", cfg.test_per_class, 500)):
        counts = dict.fromkeys(LESSON_CLASSES, 0)
        index = 0
        while any(c < quota for c in counts.values()):
            ident = _identity_for(seed, offset + index, f"{split}{index:03d}")
            skip = LESSON_CLASSES[index % n_cls]
            for ci, cls in enumerate(LESSON_CLASSES):
                if cls == skip or counts[cls] >= quota:
                    continue
                rng = np.random.default_rng([seed, 2, offset + index, ci])
                expr = expression_for(cls, rng)
                person = random_person(rng, ident, expr, face_share=cfg.face_share)
                spec = random_scene(rng, (person,))
                counts[cls] += 1
                name = f"{cls}/{cls}_{split}_{ident.id}.jpg"
                plan.append(PlannedImage(name, spec, cfg.size, _row(name, cls, person, spec, "", split)))
            index += 1
    return plan


def reject_spec(reason: str, rng: np.random.Generator, index: int = 0) -> tuple[FaceSpec, tuple[int, int]]:
    """A picture the extractor should refuse with ``reason``, and the size to paint it at.

    ``index`` cycles through the variants of a reason (mask / hand / scarf, ...).
    """
    if reason not in REJECT_REASONS:
        raise SampleError("sample_error", f"unknown reason {reason!r}; allowed: {', '.join(REJECT_REASONS)}")
    cls = LESSON_CLASSES[index % len(LESSON_CLASSES)]
    ident = random_identity(rng, f"rej_{reason}_{index:02d}")
    expr = expression_for(cls, rng)
    size = (640, 480)
    if reason in OCCLUDERS:
        occ = OCCLUDERS[reason][index % len(OCCLUDERS[reason])]
        person = replace(random_person(rng, ident, expr, face_share=(0.24, 0.34)), occluder=occ)
        return random_scene(rng, (person,)), size
    if reason == "close_up":
        # brow to chin still inside the picture, but the face fills 75-90 % of its height
        share = float(rng.uniform(0.57, 0.66))
        s_h = share / 2 * 4 / 3
        lo, hi = 0.9 * s_h, 1.0 - 1.2 * s_h
        person = replace(
            random_person(rng, ident, expr, face_share=(share, share), max_yaw=8.0),
            center=(float(rng.uniform(0.47, 0.53)), float(rng.uniform(lo, hi)) if hi > lo else 0.5),
            roll=float(rng.uniform(-4, 4)),
        )
        return random_scene(rng, (person,)), size
    if reason == "cut_off":
        # a normal-sized face with part of it beyond one edge of the frame
        share = float(rng.uniform(0.26, 0.34))
        side = index % 3
        base = random_person(rng, ident, expr, face_share=(share, share))
        s_h = share / 2 * 4 / 3
        if side == 0:  # off the left or right edge
            cx = share * (0.5 - float(rng.uniform(0.15, 0.3)))
            person = replace(base, center=(cx if index % 2 else 1.0 - cx, base.center[1]))
        elif side == 1:  # chin below the bottom edge
            person = replace(
                base, center=(base.center[0], 1.0 + (float(rng.uniform(0.18, 0.3)) * 2.3 - 1.3) * s_h)
            )
        else:  # forehead above the top edge
            person = replace(base, center=(base.center[0], (1.0 - 2.3 * float(rng.uniform(0.3, 0.4))) * s_h))
        return random_scene(rng, (person,)), size
    if reason == "multiple_faces":
        other = random_identity(rng, f"rej_{reason}_{index:02d}b")
        share = float(rng.uniform(0.2, 0.27))
        a = random_person(rng, ident, expr, face_share=(share, share))
        b = random_person(
            rng,
            other,
            expression_for(_pick(rng, LESSON_CLASSES), rng),
            face_share=(share * 0.85, share * 1.1),
        )
        a = replace(a, center=(float(rng.uniform(0.27, 0.33)), a.center[1]))
        b = replace(
            b,
            center=(
                float(rng.uniform(0.67, 0.73)),
                float(np.clip(a.center[1] + rng.normal(0, 0.04), 0.35, 0.6)),
            ),
        )
        return random_scene(rng, (a, b)), size
    if reason == "no_face":
        return random_scene(rng, (), background=BACKGROUNDS[index % len(BACKGROUNDS)]), size
    if reason == "face_too_small":
        share = float(rng.uniform(0.045, 0.056))
        person = random_person(rng, ident, expr, face_share=(share, share))
        return random_scene(rng, (person,), background=BACKGROUNDS[index % len(BACKGROUNDS)]), (960, 720)
    person = random_person(rng, ident, expr, face_share=(0.24, 0.34))
    spec = random_scene(rng, (person,))
    if reason == "blurry":
        return replace(spec, blur=float(rng.uniform(5.0, 8.0)), noise=1.0), size
    if reason == "too_dark":
        return replace(spec, exposure=float(rng.uniform(0.1, 0.2)), noise=float(rng.uniform(1.0, 2.0))), size
    # too_bright: a blown-out exposure
    return replace(spec, exposure=float(rng.uniform(3.5, 4.5))), size


def _reject_plan(seed: int, cfg: SampleConfig) -> list[PlannedImage]:
    plan = []
    for ri, reason in enumerate(REJECT_REASONS):
        for i in range(cfg.rejects_per_reason):
            rng = np.random.default_rng([seed, 3, ri, i])
            spec, size = reject_spec(reason, rng, i)
            name = f"rejects/{reason}/{reason}_{i:02d}.jpg"
            main = spec.main
            # no_face pictures still carry the class the student meant to photograph
            cls = main.expression.name if main else LESSON_CLASSES[i % len(LESSON_CLASSES)]
            plan.append(PlannedImage(name, spec, size, _row(name, cls, main, spec, reason, "")))
    return plan


def sample_plan(seed: int, cfg: SampleConfig = SampleConfig()) -> list[PlannedImage]:
    """Every file of the sample set, in writing order. Cheap: nothing is painted here."""
    return _expression_plan(seed, cfg) + _reject_plan(seed, cfg)


def paint(item: PlannedImage, quality: int = 85) -> bytes:
    """The JPEG bytes of one planned file."""
    return encode_jpeg(render(item.spec, size=item.size).rgb, quality)


def contact_sheet(
    folder: Path, rows: Sequence[dict[str, str]], *, per_row: int = 10, thumb: int = 112
) -> Image.Image:
    """A grid of thumbnails: one row per lesson class (train first), then one per reject reason."""
    groups: list[tuple[str, list[str]]] = []
    for cls in LESSON_CLASSES:
        files = [r["file"] for r in rows if r["class"] == cls and not r["expected_reason"]]
        groups.append((f"{cls} {KOREAN_NAMES[cls]}", files[:: max(1, len(files) // per_row)][:per_row]))
    for reason in REJECT_REASONS:
        files = [r["file"] for r in rows if r["expected_reason"] == reason]
        groups.append((reason, files[:per_row]))
    th = thumb * 3 // 4
    label_w = 150
    sheet = Image.new("RGB", (label_w + per_row * (thumb + 4), len(groups) * (th + 4) + 4), (245, 245, 245))
    d = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for gi, (label, files) in enumerate(groups):
        y = 4 + gi * (th + 4)
        d.text((6, y + th // 2 - 8), label.split(" ")[0], fill=(20, 20, 20), font=font)
        for fi, name in enumerate(files):
            with Image.open(folder / name) as im:
                im.draft("RGB", (thumb * 2, th * 2))
                small = im.convert("RGB").resize((thumb, th), Image.BILINEAR)
            sheet.paste(small, (label_w + fi * (thumb + 4), y))
    return sheet


def _readme(seed: int, cfg: SampleConfig, plan: Sequence[PlannedImage], total_bytes: int) -> str:
    n_expr = sum(1 for p in plan if not p.row["expected_reason"])
    return f"""# Sample faces (synthetic)

Every face in this folder is **painted by a program** (`edu_core/samples.py`): no photo of a
real person was used, so the set can be shared with any class. The people, their
expressions, the places behind them and the camera effects are drawn from a random seed.

- `<class>/` — {n_expr} expression pictures for the five lesson classes
  ({", ".join(f"{c} {KOREAN_NAMES[c]}" for c in LESSON_CLASSES)}):
  {cfg.train_per_class} for training and {cfg.test_per_class} for testing per class. Each painted person
  appears in only one of the two splits (column `split`), showing up to four different expressions.
- `rejects/<reason>/` — {cfg.rejects_per_reason} pictures per rejection reason that the face extractor
  should refuse (covered mouth or eyes, close-up, cut off, two faces, no face, tiny face,
  blurred, too dark, too bright). The folder name is the extractor's reason code.
- `labels.csv` — one row per file: {", ".join(LABEL_COLUMNS)}. `intensity` is the painted
  strength of the expression (0 subtle .. 1 strong); `expected_reason` is empty for faces that
  should be accepted. Rows of `no_face` pictures carry the class the student "meant" to shoot.
- `contact_sheet.jpg` — thumbnails of every class and reason.

Total size: {total_bytes / 1e6:.1f} MB. Regenerate byte for byte (same Python packages):

```
python -m edu_core.samples --out sample_images --seed {seed}
```
"""


def generate_samples(
    out: Path,
    seed: int = 7,
    cfg: SampleConfig = SampleConfig(),
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Write the sample set into ``out`` (class folders, rejects, labels.csv, README, sheet).

    Existing files with the same names are overwritten; nothing else in ``out`` is touched.
    Returns a summary (counts, bytes, seconds).
    """
    t0 = time.perf_counter()
    out = Path(out)
    plan = sample_plan(seed, cfg)
    total = 0
    for i, item in enumerate(plan):
        path = out / item.file
        path.parent.mkdir(parents=True, exist_ok=True)
        data = paint(item, cfg.jpeg_quality)
        path.write_bytes(data)
        total += len(data)
        if progress:
            progress(i + 1, len(plan))
    rows = [item.row for item in plan]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "labels.csv").write_text(buf.getvalue(), encoding="utf-8")
    if cfg.contact_sheet:
        sheet = contact_sheet(out, rows)
        data = encode_jpeg(np.asarray(sheet), 82)
        (out / "contact_sheet.jpg").write_bytes(data)
        total += len(data)
    (out / "README.md").write_text(_readme(seed, cfg, plan, total), encoding="utf-8")
    counts: dict[str, int] = {}
    for r in rows:
        key = r["expected_reason"] or f"{r['class']}/{r['split']}"
        counts[key] = counts.get(key, 0) + 1
    return {
        "out": str(out),
        "seed": seed,
        "files": len(plan),
        "counts": counts,
        "bytes": total,
        "seconds": round(time.perf_counter() - t0, 1),
    }


#: Blendshapes the quality report averages per class (left/right pairs are averaged together).
REPORT_BLENDSHAPES: tuple[str, ...] = (
    "mouthSmile",
    "mouthFrown",
    "browInnerUp",
    "browDown",
    "eyeWide",
    "jawOpen",
    "eyeSquint",
)


def _pair_mean(shapes: dict[str, float], name: str) -> float:
    if name in shapes:
        return float(shapes[name])
    return (float(shapes[name + "Left"]) + float(shapes[name + "Right"])) / 2.0


def read_labels(folder: Path) -> list[dict[str, str]]:
    """The rows of ``folder/labels.csv``."""
    path = Path(folder) / "labels.csv"
    if not path.is_file():
        raise SampleError("samples_missing", str(path))
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def quality_report(folder: Path, *, rejects: bool = True, limit: int | None = None) -> dict[str, object]:
    """Measure the quality gates on a sample folder with the real MediaPipe model and extractor.

    - ``detection``: share of expression pictures where the landmarker finds exactly one face
    - ``accepted``: share of expression pictures the extractor accepts
    - ``blendshapes``: mean of :data:`REPORT_BLENDSHAPES` per class
    - ``rejects``: per reason, the share the extractor rejects with that reason, and what it said
    ``limit`` keeps only the first N pictures of each class / reason (for quick checks).
    """
    from edu_core.faces import Landmarker, extract  # MediaPipe is heavy; only the report needs it
    from edu_core.images import decode

    folder = Path(folder)
    rows = read_labels(folder)
    seen: dict[str, int] = {}
    picked = []
    for r in rows:
        key = r["expected_reason"] or r["class"]
        seen[key] = seen.get(key, 0) + 1
        if limit is None or seen[key] <= limit:
            picked.append(r)
    one_face = 0
    accepted = 0
    n_expr = 0
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    misses: list[str] = []
    with Landmarker() as lm:
        for r in picked:
            path = folder / r["file"]
            if r["expected_reason"]:
                if not rejects:
                    continue
                got = extract(path, landmarker=lm).reason or "ok"
                tally = reasons.setdefault(r["expected_reason"], {})
                tally[got] = tally.get(got, 0) + 1
                continue
            n_expr += 1
            faces = lm.detect(decode(path.read_bytes()).rgb)
            if len(faces) == 1:
                one_face += 1
                vec = np.array([_pair_mean(faces[0].blendshapes, b) for b in REPORT_BLENDSHAPES])
                sums[r["class"]] = sums.get(r["class"], 0) + vec
                counts[r["class"]] = counts.get(r["class"], 0) + 1
            else:
                misses.append(f"{r['file']}: {len(faces)} faces")
            result = extract(path, landmarker=lm)
            if result.ok:
                accepted += 1
            else:
                misses.append(f"{r['file']}: rejected {result.reason}")
    blend = {
        c: {b: round(float(v), 3) for b, v in zip(REPORT_BLENDSHAPES, sums[c] / counts[c], strict=True)}
        for c in LESSON_CLASSES
        if counts.get(c)
    }
    return {
        "folder": str(folder),
        "expression_images": n_expr,
        "detection": round(one_face / n_expr, 4) if n_expr else None,
        "accepted": round(accepted / n_expr, 4) if n_expr else None,
        "blendshapes": blend,
        "rejects": {
            reason: {"n": sum(t.values()), "correct": round(t.get(reason, 0) / sum(t.values()), 3), "got": t}
            for reason, t in reasons.items()
        },
        "problems": misses,
    }


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _check_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edu_core.samples check",
        description="Measure the sample set's quality gates with MediaPipe and the face extractor.",
    )
    parser.add_argument("--dir", type=Path, default=Path("sample_images"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N pictures per class/reason")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(list(argv))
    report = quality_report(args.dir, limit=args.limit)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"exactly one face found: {report['detection']:.1%} of {report['expression_images']} pictures")
    print(f"accepted by the extractor: {report['accepted']:.1%}")
    for cls, means in report["blendshapes"].items():
        print(f"  {cls:9s} " + "  ".join(f"{k}={v:.2f}" for k, v in means.items()))
    for reason, r in report["rejects"].items():
        print(f"  {reason:15s} {r['correct']:.0%} of {r['n']}  {r['got']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``--out DIR --seed S [--json]``, or ``aihub --out DIR --per-class N`` (AI Hub demo set)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in and args_in[0] == "aihub":
        from edu_core import aihub_demo  # another module owns the AI Hub layout; load it only when asked

        return aihub_demo.main(args_in[1:])
    if args_in and args_in[0] == "check":
        return _check_main(args_in[1:])
    parser = argparse.ArgumentParser(
        prog="python -m edu_core.samples",
        description="Paint the synthetic sample faces (sample_images/). "
        "Use 'aihub --out DIR --per-class N' for a seven-class demo set in the AI Hub layout.",
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train-per-class", type=int, default=SampleConfig.train_per_class)
    parser.add_argument("--test-per-class", type=int, default=SampleConfig.test_per_class)
    parser.add_argument("--rejects-per-reason", type=int, default=SampleConfig.rejects_per_reason)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(args_in)
    cfg = SampleConfig(
        train_per_class=args.train_per_class,
        test_per_class=args.test_per_class,
        rejects_per_reason=args.rejects_per_reason,
    )

    def show(done: int, total: int) -> None:
        if not args.json and (done % 50 == 0 or done == total):
            print(f"{done}/{total}", file=sys.stderr)

    summary = generate_samples(args.out, args.seed, cfg, progress=show)
    summary["sha256"] = _digest(args.out)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(
            f"wrote {summary['files']} pictures ({summary['bytes'] / 1e6:.1f} MB) to {args.out} "
            f"in {summary['seconds']} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
