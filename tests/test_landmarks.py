"""The landmark index sets are MediaPipe's own outlines, and reading stored faces never loads MediaPipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mediapipe.tasks.python.vision.face_landmarker import FaceLandmarksConnections as C

from edu_core import landmarks

ROOT = Path(__file__).resolve().parent.parent


def _edges(connections) -> set[frozenset[int]]:
    return {frozenset((c.start, c.end)) for c in connections}


@pytest.mark.parametrize(
    ("name", "connections", "size"),
    [
        ("EYE_RIGHT", C.FACE_LANDMARKS_RIGHT_EYE, 16),
        ("EYE_LEFT", C.FACE_LANDMARKS_LEFT_EYE, 16),
        ("LIPS_OUTER", C.FACE_LANDMARKS_LIPS, 20),
        ("LIPS_INNER", C.FACE_LANDMARKS_LIPS, 20),
        ("FACE_OVAL", C.FACE_LANDMARKS_FACE_OVAL, 36),
    ],
)
def test_outlines_are_closed_rings_of_mediapipes_edges(name, connections, size):
    ring = getattr(landmarks, name)
    assert len(ring) == len(set(ring)) == size
    steps = {frozenset(p) for p in zip(ring, ring[1:] + ring[:1], strict=True)}
    assert steps <= _edges(connections)


def test_open_paths_and_arcs_follow_mediapipes_edges():
    for path, conns in (
        (landmarks.BROW_RIGHT_UPPER, C.FACE_LANDMARKS_RIGHT_EYEBROW),
        (landmarks.BROW_LEFT_UPPER, C.FACE_LANDMARKS_LEFT_EYEBROW),
        (landmarks.JAW, C.FACE_LANDMARKS_FACE_OVAL),
    ):
        assert {frozenset(p) for p in zip(path[:-1], path[1:], strict=True)} <= _edges(conns)
    assert landmarks.JAW[0] == 234 and landmarks.JAW[-1] == 454 and landmarks.CHIN in landmarks.JAW
    assert set(landmarks.BROW_RIGHT) == {i for c in C.FACE_LANDMARKS_RIGHT_EYEBROW for i in (c.start, c.end)}


def test_the_gate_reads_its_outlines_in_the_order_it_was_fitted_with():
    # face_gate.json was fitted with these starting points and directions (see landmarks._tables).
    assert landmarks.EYE_RIGHT[:3] == (33, 7, 163) and landmarks.EYE_LEFT[:3] == (362, 382, 381)
    assert landmarks.LIPS_OUTER[:3] == (61, 146, 91) and landmarks.LIPS_INNER[:3] == (78, 95, 88)
    assert landmarks.FACE_OVAL[:3] == (10, 338, 297)
    assert landmarks.EYE_CORNERS_RIGHT == (33, 133) and landmarks.EYE_CORNERS_LEFT == (362, 263)
    assert landmarks.EYE_LIDS_RIGHT == (159, 145) and landmarks.EYE_LIDS_LEFT == (386, 374)


#: The order the pieces features (and every stored pieces model) were built with, written out
#: once: a MediaPipe release that renames or reorders its categories must fail here.
STORED_BLENDSHAPE_ORDER = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)


def test_blendshape_names_are_mediapipes_categories():
    from edu_core.models import BLENDSHAPE_NAMES

    names = landmarks.BLENDSHAPE_NAMES
    assert names == STORED_BLENDSHAPE_ORDER
    assert BLENDSHAPE_NAMES == names  # the models module serves the same table


def test_piece_outlines_are_mediapipes_connection_pairs():
    outlines = landmarks.PIECE_OUTLINES
    assert set(outlines) == {"brows", "eyes", "lips"}
    assert {frozenset(p) for p in outlines["lips"]} == _edges(C.FACE_LANDMARKS_LIPS)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        landmarks.NO_SUCH_PART  # noqa: B018


def test_reading_stored_faces_does_not_load_mediapipe():
    code = (
        "import sys; import edu_core.faces, edu_core.facecodec, edu_core.charts; "
        "print('mediapipe' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
