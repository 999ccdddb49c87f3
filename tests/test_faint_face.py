"""The second, low-confidence look for a face: it may name a covered part, never accept a face.

A mask or a fringe can push MediaPipe's detector under its usual confidence, so the photo used to
come back as "no face". The first pass is made to miss here (a landmarker whose normal pass finds
nothing), so that the test is about what extract() does with a face seen only at low confidence;
that second look itself runs the real model.
"""

from __future__ import annotations

import face_variants as fv
import numpy as np
import pytest

from edu_core.faces import CropConfig, Landmarker, extract
from edu_core.kept import cut_anyway
from edu_core.occlusions import occlude


class MissesAtFirst(Landmarker):
    """A real landmarker whose normal pass finds no face (its low-confidence look is untouched)."""

    def detect(self, rgb):
        return []


@pytest.fixture(scope="module")
def blind():
    with MissesAtFirst() as lm:
        yield lm


def _astronaut(kind: str | None = None) -> bytes:
    rgb = np.asarray(fv.astronaut())
    if kind:
        rgb = occlude(rgb, fv.astronaut_landmarks(), kind, seed=2)
    return fv.to_jpeg(rgb)


def test_a_clean_face_seen_only_faintly_is_not_accepted(blind):
    r = extract(_astronaut(), landmarker=blind)
    assert r.reason == "no_face" and "faint" in r.detail
    assert r.crop is None  # nothing of a face the app did not trust is kept


@pytest.mark.parametrize(("kind", "reason"), [("mask", "occluded_mouth"), ("sunglasses", "occluded_eyes")])
def test_a_covered_face_seen_only_faintly_names_the_covered_part(blind, kind, reason):
    r = extract(_astronaut(kind), landmarker=blind)
    assert r.reason == reason, (r.reason, r.detail)
    assert "faint" in r.detail


def test_the_second_look_can_be_turned_off(blind):
    r = extract(_astronaut("mask"), CropConfig(faint_confidence=0), landmarker=blind)
    assert r.reason == "no_face" and r.detail == ""


def test_without_the_cover_check_the_faint_cut_is_left_to_the_caller(blind):
    # bench/realfaces.py extracts once without the cover decision and judges the cut later
    r = extract(_astronaut("mask"), CropConfig(check_cover=False), landmarker=blind)
    assert r.reason == "no_face" and r.crop is not None and r.landmarks is not None


def test_keeping_anyway_cuts_a_faintly_seen_face(blind):
    face = cut_anyway(_astronaut("mask"), blind)
    assert face is not None and face.ok and face.crop.shape == (256, 256, 3)
    assert cut_anyway(_astronaut("mask"), blind, CropConfig(faint_confidence=0)) is None


def test_a_photo_without_a_face_stays_no_face(landmarker):
    for data in (fv.no_face(), fv.to_jpeg(np.full((480, 640, 3), 128, np.uint8))):
        r = extract(data, landmarker=landmarker)
        assert r.reason == "no_face", (r.reason, r.detail)
