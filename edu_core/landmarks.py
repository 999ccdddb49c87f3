"""MediaPipe face-mesh index sets and blendshape names, read from MediaPipe's own tables.

MediaPipe ships the outlines of the face parts as connection lists
(``FaceLandmarksConnections.FACE_LANDMARKS_LIPS``, ``..._RIGHT_EYE``, ...) and the 52 blendshape
categories as the ``Blendshapes`` enum. Everything here is derived from those tables, so no
index list is typed by hand twice. The few points MediaPipe does not name (a cheek, the middle
of the chin) are constants below, each with a comment saying where it lies.

"Left" and "right" are the person's own sides, as in MediaPipe: the person's right eye is on the
left of a photo that is not mirrored.

Importing ``mediapipe`` costs one to two seconds, which modules that only read stored faces (the
store, the pages) must not pay. So the derived names are built on first access (PEP 562
``__getattr__``) and kept. Read them as attributes where they are used
(``landmarks.LIPS_OUTER``), or import them where the caller needs MediaPipe anyway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

Path = tuple[int, ...]
Pairs = tuple[tuple[int, int], ...]

# --- points MediaPipe gives no name: named here -------------------------------------------------

#: Centre of the iris (the first of the five iris points; the outline is 469-472 / 474-477).
IRIS_CENTER_RIGHT = 468
IRIS_CENTER_LEFT = 473
#: The middle of the lower cheeks, below the cheekbone: where a mask or a hand rests.
CHEEKS = (205, 425)
#: The upper cheeks, on the cheekbones just below the eyes (right, left).
UPPER_CHEEKS = (50, 280)
#: Two points on the nose: the tip and the upper bridge (the nose outline passes through both).
NOSE_POINTS = (4, 195)
#: The tip of the nose and the deepest point of its bridge, between the eyes (the pieces model's
#: face height and nose distances).
NOSE_TIP = 1
NOSE_BRIDGE = 168
#: The bottom of the lower lip and the chin; the chin region is the disc half-way between.
LOWER_LIP_BOTTOM = 17
CHIN = 152
#: The middle of the forehead and two points above the brows.
FOREHEAD = (151, 108, 337)
#: The line where the lips meet: (upper inner lip, lower inner lip) pairs from the middle outwards.
LIP_LINE_PAIRS = ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))
#: The forehead region the cover gate looks at: the face-oval arc over the top of the head
#: (103 ... 332), then above the left brow (334, 296, 336), between the brows (9) and above the
#: right brow (107, 66, 105). A polygon of our own, so it is written out.
FOREHEAD_POLY = (103, 67, 109, 10, 338, 297, 332, 334, 296, 336, 9, 107, 66, 105)

if TYPE_CHECKING:  # the names __getattr__ builds, for type checkers and readers
    EYE_RIGHT: Path  # closed outline, from the outer corner (33) along the lower lid
    EYE_LEFT: Path  # closed outline, from the inner corner (362) along the lower lid
    BROW_RIGHT: Path  # upper edge outwards-in, then the lower edge back
    BROW_LEFT: Path
    BROW_RIGHT_UPPER: Path  # the upper edge, outer end first
    BROW_LEFT_UPPER: Path
    LIPS_OUTER: Path  # closed outline from the right corner (61) along the lower lip
    LIPS_INNER: Path  # closed inner outline from the right inner corner (78)
    FACE_OVAL: Path  # closed, from the top of the forehead (10) clockwise on the photo
    JAW: Path  # the face-oval arc under the chin, from the right cheek (234) to the left (454)
    EYE_CORNERS_RIGHT: tuple[int, int]  # (outer, inner)
    EYE_CORNERS_LEFT: tuple[int, int]  # (inner, outer)
    EYE_LIDS_RIGHT: tuple[int, int]  # (top, bottom) of the lids at the middle of the eye
    EYE_LIDS_LEFT: tuple[int, int]
    PIECE_OUTLINES: Mapping[str, Pairs]  # MediaPipe's connection pairs of brows, eyes and lips
    BLENDSHAPE_NAMES: tuple[str, ...]  # the 52 category names, in MediaPipe's order


def paths(connections: Sequence[Any]) -> list[Path]:
    """Split a MediaPipe connection list into the paths it draws, in its own order.

    A connection list is a sequence of (start, end) edges; a new path begins where an edge does
    not continue from the previous one (MediaPipe lists each lid, or lip, as one such path).
    """
    out: list[list[int]] = []
    for c in connections:
        start, end = int(c.start), int(c.end)
        if out and out[-1][-1] == start:
            out[-1].append(end)
        else:
            out.append([start, end])
    return [tuple(p) for p in out]


def ring(a: Path, b: Path) -> Path:
    """The closed outline of two paths that share both ends: ``a``, then ``b`` walked back."""
    if a[0] != b[0] or a[-1] != b[-1]:
        raise ValueError(f"paths do not share their ends: {a[0]}..{a[-1]} vs {b[0]}..{b[-1]}")
    return a + tuple(reversed(b[1:-1]))


def pairs(connections: Sequence[Any]) -> Pairs:
    """The connection list as plain ``(start, end)`` index pairs."""
    return tuple((int(c.start), int(c.end)) for c in connections)


def _camel(enum_name: str) -> str:
    """``BROW_DOWN_LEFT`` -> ``browDownLeft``, the category name MediaPipe reports."""
    if enum_name == "NEUTRAL":
        return "_neutral"  # the model's own spelling of its "no movement" score
    head, *rest = enum_name.lower().split("_")
    return head + "".join(w.capitalize() for w in rest)


def _arc(cycle: Path, start: int, end: int, *, backwards: bool) -> Path:
    """The points of a closed outline from ``start`` to ``end``, both included."""
    seq = tuple(reversed(cycle)) if backwards else cycle
    i = seq.index(start)
    seq = seq[i:] + seq[:i]
    return seq[: seq.index(end) + 1]


@cache
def _tables() -> dict[str, Any]:
    # MediaPipe is loaded here, not at import, for the reason in the module docstring.
    from mediapipe.tasks.python.vision.face_landmarker import Blendshapes, FaceLandmarksConnections

    c = FaceLandmarksConnections
    eye_r_low, eye_r_up = paths(c.FACE_LANDMARKS_RIGHT_EYE)
    eye_l_low, eye_l_up = paths(c.FACE_LANDMARKS_LEFT_EYE)
    brow_r_low, brow_r_up = paths(c.FACE_LANDMARKS_RIGHT_EYEBROW)
    brow_l_low, brow_l_up = paths(c.FACE_LANDMARKS_LEFT_EYEBROW)
    lip_out_low, lip_out_up, lip_in_low, lip_in_up = paths(c.FACE_LANDMARKS_LIPS)
    (oval,) = paths(c.FACE_LANDMARKS_FACE_OVAL)
    oval = oval[:-1]  # the path returns to its start
    t: dict[str, Any] = {
        # The starting point and direction of each outline are the ones the cover gate was
        # fitted with (edu_core/face_gate.json); a filled polygon does not depend on them, but
        # its centre's rounding would, so they stay.
        "EYE_RIGHT": ring(eye_r_low, eye_r_up),
        "EYE_LEFT": ring(eye_l_low[::-1], eye_l_up[::-1]),
        "BROW_RIGHT": brow_r_up + brow_r_low[::-1],
        "BROW_LEFT": brow_l_up + brow_l_low[::-1],
        "BROW_RIGHT_UPPER": brow_r_up,
        "BROW_LEFT_UPPER": brow_l_up,
        "LIPS_OUTER": ring(lip_out_low, lip_out_up),
        "LIPS_INNER": ring(lip_in_low, lip_in_up),
        "FACE_OVAL": oval,
        "JAW": _arc(oval, 234, 454, backwards=True),
        "EYE_CORNERS_RIGHT": (eye_r_low[0], eye_r_low[-1]),
        "EYE_CORNERS_LEFT": (eye_l_low[-1], eye_l_low[0]),
        "EYE_LIDS_RIGHT": (eye_r_up[len(eye_r_up) // 2], eye_r_low[len(eye_r_low) // 2]),
        "EYE_LIDS_LEFT": (eye_l_up[len(eye_l_up) // 2], eye_l_low[len(eye_l_low) // 2]),
        "PIECE_OUTLINES": {
            "brows": pairs(c.FACE_LANDMARKS_RIGHT_EYEBROW) + pairs(c.FACE_LANDMARKS_LEFT_EYEBROW),
            "eyes": pairs(c.FACE_LANDMARKS_RIGHT_EYE) + pairs(c.FACE_LANDMARKS_LEFT_EYE),
            "lips": pairs(c.FACE_LANDMARKS_LIPS),
        },
        "BLENDSHAPE_NAMES": tuple(_camel(b.name) for b in sorted(Blendshapes, key=int)),
    }
    return t


def __getattr__(name: str) -> Any:
    if re.fullmatch(r"[A-Z][A-Z_]*", name):
        table = _tables()
        if name in table:
            return table[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_tables()])
