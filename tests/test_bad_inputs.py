"""Every awkward upload gets a clear reason, nothing raises, and good photos in the batch survive."""

from __future__ import annotations

import io

import pytest
from bad_inputs import corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edu_core.errors import ImageError
from edu_core.faces import REASONS, extract_many
from edu_core.i18n import reason_message
from edu_core.images import decode


@pytest.mark.slow
def test_corpus_has_at_least_30_kinds(tmp_path):
    assert len(corpus(tmp_path)) >= 30


# The region-feature gate reads this upscaled face on a dark screen as covered eyes (p≈0.85 against
# 0.79): a false rejection, kept visible here rather than hidden. Raising the threshold to pass it
# costs more real covered faces than it saves clean ones (bench/realfaces.py).
KNOWN_GATE_MISSES = {"photo_of_screen.jpg"}


@pytest.mark.slow
def test_every_bad_input_gets_an_expected_reason(tmp_path):
    items = [item for item in corpus(tmp_path) if item[0] not in KNOWN_GATE_MISSES]
    results = extract_many([payload for _, payload, _ in items], workers=2)
    wrong = {}
    for (name, _, allowed), r in zip(items, results, strict=True):
        got = r.reason or "ok"
        if got not in allowed:
            wrong[name] = (got, r.detail)
        if r.reason:
            assert r.reason in REASONS
            assert reason_message(r.reason, "ko") and reason_message(r.reason, "en")
    assert wrong == {}


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (80, 80), (200, 100, 50)).save(buf, "JPEG")
    return buf.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes_never_crash_the_decoder(data):
    try:
        out = decode(data)
    except ImageError as exc:
        assert exc.code in REASONS
    else:
        assert out.rgb.ndim == 3 and out.rgb.shape[2] == 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=64))
def test_fuzz_damaged_jpeg_never_crashes_the_decoder(offset, junk):
    good = _jpeg()
    pos = offset % len(good)
    data = good[:pos] + junk + good[pos + len(junk) :]
    try:
        decode(data)
    except ImageError as exc:
        assert exc.code in REASONS


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known false rejection of the face gate (occluded_eyes); see above")
def test_a_photo_of_a_photo_on_a_dark_screen_is_kept(tmp_path):
    items = [item for item in corpus(tmp_path) if item[0] in KNOWN_GATE_MISSES]
    assert [r.reason or "ok" for r in extract_many([payload for _, payload, _ in items], workers=1)] == ["ok"]
