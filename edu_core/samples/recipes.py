"""Drawing specs from a random generator: people, the lesson classes' expression recipes, pose and scene."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Literal

import numpy as np

from edu_core.labels import KOREAN7_CLASSES, LESSON_CLASSES
from edu_core.samples.spec import (
    _FACE_SHAPES,
    _HAIR_STYLES,
    _SKIN_TONES,
    AGE_GROUPS,
    BACKGROUNDS,
    GENDERS,
    Expression,
    FaceSpec,
    Identity,
    Person,
    SampleError,
)

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
    # Drawn after every other trait, so older seeds keep the rest of the person they had.
    # Children's faces differ in geometry, not only in size: brows sit higher above rounder,
    # relatively taller eyes, and the mouth is smaller. (How children show a feeling differs
    # too, in its style and in how rarely they hold it back: see AGE_STYLES, expression_for.)
    brow_lift = float(rng.normal(0.0, 0.022) - (0.035 if child else 0.0))
    eye_height = float(np.clip(rng.normal(1.0, 0.1), 0.75, 1.3) * (1.18 if child else 1.0))
    mouth_height = float(np.clip(rng.normal(1.0, 0.12), 0.7, 1.3))
    resting = _resting_face(rng, age)
    expressiveness = float(np.clip(rng.lognormal(0.0, 0.25), 0.55, 1.6) * (1.05 if child else 1.0))
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
        mouth_width=float(rng.uniform(0.88, 1.12) * (0.92 if child else 1.0)),
        lip_colour=lip,
        glasses=bool(rng.random() < (0.1 if child else 0.22)),
        clothes=tuple(int(c) for c in rng.integers(25, 230, size=3)),
        jaw=float(rng.uniform(0.9, 1.1) * (1.06 if sex == "male" else 0.97)),
        face_length=float(rng.uniform(0.94, 1.06) * (0.94 if child else 1.0)),
        brow_lift=brow_lift,
        eye_height=eye_height,
        mouth_height=mouth_height,
        resting=resting,
        expressiveness=expressiveness,
    )


def _resting_face(rng: np.random.Generator, age: str) -> tuple[tuple[str, float], ...]:
    """A person's face at rest, as offsets of the data pieces.

    Real resting faces differ as much as weak expressions do: a mouth whose corners turn down
    reads as sad on someone who is not, knitted brows as anger, heavy lids as tiredness. So
    one person's neutral can look like another's sadness, and a model has to learn the person
    out of the pieces, which takes many people.
    """
    young = age in ("child", "teen")
    return (
        ("smile", float(np.clip(rng.normal(0.0, 0.22), -0.6, 0.6))),
        ("brow_inner_up", float(np.clip(abs(rng.normal(0.0, 0.26)), 0.0, 0.6))),
        ("brow_down", float(np.clip(abs(rng.normal(0.0, 0.2)), 0.0, 0.6))),
        ("eye_open", float(np.clip(rng.normal(0.1 if young else -0.05, 0.28), -0.6, 0.6))),
        ("lip_press", float(np.clip(abs(rng.normal(0.0, 0.22)), 0.0, 0.6))),
        ("mouth_open", float(np.clip(abs(rng.normal(0.0, 0.06)), 0.0, 0.2))),
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

#: The same styles as shown by age: children show a feeling the way a picture book draws it (a
#: laugh, a pout, an open-mouthed "oh", a shout), grown-ups mostly hold it back (a closed smile,
#: downcast eyes, raised brows, a cold frown). A model that has only seen one age group has seen
#: few of the other's ways, which is why adding the missing group helps more than adding photos.
AGE_STYLES: Mapping[str, Mapping[str, tuple[tuple[str, float], ...]]] = MappingProxyType(
    {
        "child": MappingProxyType(
            {
                "joy": (("smile", 0.35), ("laugh", 0.6), ("eyes_only", 0.05)),
                "sadness": (("classic", 0.8), ("downcast", 0.15), ("brows_only", 0.05)),
                "surprise": (("full", 0.7), ("brows_eyes", 0.05), ("mouth_only", 0.25)),
                "anger": (("glare", 0.3), ("frown", 0.05), ("shout", 0.65)),
                "neutral": (("rest", 1.0),),
            }
        ),
        "teen": LESSON_STYLES,
        "adult": MappingProxyType(
            {
                "joy": (("smile", 0.55), ("laugh", 0.15), ("eyes_only", 0.3)),
                "sadness": (("classic", 0.3), ("downcast", 0.45), ("brows_only", 0.25)),
                "surprise": (("full", 0.3), ("brows_eyes", 0.45), ("mouth_only", 0.25)),
                "anger": (("glare", 0.4), ("frown", 0.45), ("shout", 0.15)),
                "neutral": (("rest", 1.0),),
            }
        ),
    }
)


def styles_for(age_group: str | None) -> Mapping[str, tuple[tuple[str, float], ...]]:
    """The style shares of an age group (seniors as adults; no age: :data:`LESSON_STYLES`)."""
    if age_group == "senior":
        age_group = "adult"
    return AGE_STYLES.get(age_group or "", LESSON_STYLES)


def _recipe(
    name: str,
    k: float,
    rng: np.random.Generator,
    styles: Mapping[str, tuple[tuple[str, float], ...]] = LESSON_STYLES,
) -> dict[str, float]:
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
        style = _style(rng, styles["joy"])
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
        style = _style(rng, styles["sadness"])
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
        style = _style(rng, styles["surprise"])
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
        style = _style(rng, styles["anger"])
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


def expression_for(
    name: str,
    rng: np.random.Generator,
    *,
    intensity: float | None = None,
    identity: Identity | None = None,
) -> Expression:
    """An expression of class ``name`` (a lesson or Korean-7 class id) with random strength.

    Small random leaks of the other pieces keep subtle examples close to neighbouring classes.
    With ``identity`` the expression starts from that person's resting face and is as strong
    as they show feelings (:attr:`Identity.expressiveness`).
    """
    if intensity is not None:
        k = float(np.clip(intensity, 0.0, 1.0))
    elif name in LESSON_CLASSES:
        # Everyday photos: some feelings are held back until hardly anything shows (no amount
        # of photos teaches a model to see those), most are subtle to clear, and a share is
        # posed for the camera and strong. Children hold back less often.
        young = identity is not None and identity.age_group == "child"
        draw = rng.random()
        if draw < (0.1 if young else 0.22):
            k = float(rng.uniform(0.0, 0.1))
        elif draw > 0.88:
            k = float(rng.uniform(0.55, 1.0))
        else:
            k = float(0.15 + 0.85 * rng.beta(1.0, 2.2))
    else:
        k = float(rng.uniform(0.15, 1.0))
    if identity is not None and intensity is None:
        k = float(np.clip(k * identity.expressiveness, 0.0, 1.0))
    pieces = _recipe(name, k, rng, styles_for(identity.age_group if identity is not None else None))
    if name in LESSON_CLASSES and name != "neutral":
        # a feeling that barely shows moves every part only a little: the recipes' resting
        # offsets fade in with the strength, so the subtlest photos sit among the neutral ones
        fade = min(1.0, (k + 0.05) / 0.5)
        pieces = {key: v if key in ("teeth", "mouth_round") else v * fade for key, v in pieces.items()}
    leak = {
        "brow_inner_up": abs(rng.normal(0, 0.08)),
        "brow_down": abs(rng.normal(0, 0.06)),
        "eye_open": rng.normal(0, 0.1),
        "smile": rng.normal(0, 0.06),
        "mouth_open": abs(rng.normal(0, 0.04)),
    }
    rest = dict(identity.resting) if identity is not None else {}
    keys = set(pieces) | set(leak) | set(rest)
    values = {key: pieces.get(key, 0.0) + leak.get(key, 0.0) + rest.get(key, 0.0) for key in keys}
    clip = {key: (-1.0, 1.0) if key in ("smile", "eye_open", "asymmetry") else (0.0, 1.0) for key in values}
    # a resting face's parted lips on top of a full shout would open the jaw past what the face
    # extractor reads as a mouth (it called such a face covered)
    clip["mouth_open"] = (0.0, 0.85)
    values = {key: float(np.clip(v, *clip[key])) for key, v in values.items()}
    return Expression(name=name, intensity=round(k, 3), **values)


def random_person(
    rng: np.random.Generator,
    identity: Identity,
    expression: Expression,
    *,
    face_share: tuple[float, float] = (0.22, 0.36),
    max_yaw: float = 18.0,
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
        pitch=float(rng.uniform(-9, 9)),
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
    expr = expression_for(expression, rng, intensity=intensity, identity=ident)
    person = random_person(rng, ident, expr, face_share=face_share)
    return random_scene(rng, (person,), background=background)
