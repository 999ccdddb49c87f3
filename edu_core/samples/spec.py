"""The frozen specs of a painted picture (identity, expression, person, scene) and the fixed catalogues."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edu_core.errors import EduError


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
    eye_height: float = 1.0  # eye opening relative to its width: rounder (children) or narrower eyes
    mouth_height: float = 1.0  # lip fullness and the mouth's opening relative to its width
    #: the person's resting face: data pieces every expression of theirs starts from (a mouth that
    #: turns down at rest, brows that sit raised or knitted, sleepy or wide eyes), as (piece, value)
    resting: tuple[tuple[str, float], ...] = ()
    expressiveness: float = 1.0  # how strongly this person shows a feeling


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
