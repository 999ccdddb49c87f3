"""Realistic occluders drawn onto a real face photo, following its MediaPipe landmarks.

The face gate must be measured (and its small learned decision fitted) on covered faces, and
real photos of covered faces are rare. These functions take an upright RGB photo and the 478
landmarks MediaPipe found in it (x, y in that photo's pixels) and return a covered copy: masks
of several shapes, colours and prints, dark and tinted glasses, hands over the mouth or the
eyes, cap brims with their shadow, and fringes of hair. Each occluder is shaded with the
photo's own light, softened to its sharpness and turned grey on a black-and-white photo, so
that the gate cannot tell a drawn mask by its flat colour or crisp edge alone.

Pure numpy + OpenCV; deterministic for a given ``rng``.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from edu_core import landmarks as mesh  # MediaPipe's index tables, read on first use

#: What each kind of occluder covers: the reason code the face gate must answer with.
KINDS: dict[str, str] = {
    "mask": "occluded_mouth",
    "mask_below_nose": "occluded_mouth",
    "gaiter": "occluded_mouth",
    "hand_mouth": "occluded_mouth",
    "sunglasses": "occluded_eyes",
    "tinted_glasses": "occluded_eyes",
    "hand_eyes": "occluded_eyes",
    "cap_brim": "occluded_eyes",
    "fringe": "occluded_eyes",
    # A mask pulled down onto the chin leaves the whole mouth visible: the photo must pass.
    "mask_on_chin": "ok",
}


_MASK_COLOURS = (
    (236, 238, 240),  # white
    (150, 190, 222),  # surgical blue
    (35, 36, 40),  # black
    (128, 130, 134),  # grey
    (226, 190, 200),  # pink
    (40, 52, 92),  # navy
    (196, 168, 140),  # beige, close to many skin tones
    (120, 60, 50),  # brown
    (90, 130, 90),  # green
)
_HAIR_COLOURS = ((22, 18, 16), (55, 38, 26), (95, 65, 40), (160, 120, 70), (200, 170, 110), (120, 40, 30))


def _pts(lm: np.ndarray, idx) -> np.ndarray:
    return np.asarray(lm, dtype=np.float32)[list(idx), :2]


def _face_scale(lm: np.ndarray) -> float:
    lm = np.asarray(lm, dtype=np.float32)
    return float(np.linalg.norm(lm[10, :2] - lm[152, :2]))  # forehead top to chin


def _poly_alpha(shape: tuple[int, int], polys: list[np.ndarray], feather: float) -> np.ndarray:
    alpha = np.zeros(shape, np.float32)
    for p in polys:
        cv2.fillPoly(alpha, [np.round(p).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    if feather > 0.3:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather)
    return alpha


def _is_grey(rgb: np.ndarray) -> bool:
    sub = rgb[::4, ::4].astype(np.int16)
    return float(np.mean(np.abs(sub[..., 0] - sub[..., 1]) + np.abs(sub[..., 1] - sub[..., 2]))) < 3.0


def _sharpness_sigma(rgb: np.ndarray, lm: np.ndarray) -> float:
    """How soft the photo is around the face, as a Gaussian sigma to give the occluder."""
    x0, y0 = np.maximum(0, lm[:, :2].min(0)).astype(int)
    x1, y1 = lm[:, :2].max(0).astype(int)
    grey = cv2.cvtColor(rgb[y0 : y1 + 1, x0 : x1 + 1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    if grey.size < 64:
        return 0.5
    # An upscaled or out-of-focus face has little fine detail relative to its overall contrast.
    fine = float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())
    coarse = float(grey.std()) + 1.0
    ratio = fine / coarse
    return float(np.clip(0.35 / max(ratio, 1e-3), 0.4, 3.0))


def _composite(
    rgb: np.ndarray,
    layer: np.ndarray,
    alpha: np.ndarray,
    lm: np.ndarray,
    rng: np.random.Generator,
    *,
    shade: float = 0.7,
) -> np.ndarray:
    """Lay ``layer`` (float RGB) over ``rgb`` with ``alpha``, lit and blurred like the photo."""
    img = rgb.astype(np.float32)
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    scale = _face_scale(lm)
    # The photo's light: the face's brightness at a coarse scale, relative to its mean under the
    # occluder. Multiplying by it puts the same highlights and shadows on the occluder.
    light = cv2.GaussianBlur(luma, (0, 0), max(2.0, 0.12 * scale))
    ref = float((light * alpha).sum() / max(alpha.sum(), 1.0))
    gain = (light / max(ref, 1.0)) ** shade
    layer = layer * np.clip(gain, 0.55, 1.35)[..., None]
    # a soft fold of shadow across the occluder so that it is never one flat colour
    h, w = alpha.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    wave = np.sin((xx * np.cos(ang) + yy * np.sin(ang)) / max(4.0, rng.uniform(0.08, 0.2) * scale))
    layer = layer * (1.0 + rng.uniform(0.02, 0.07) * wave)[..., None]
    layer = layer + rng.normal(0.0, rng.uniform(1.0, 3.5), layer.shape).astype(np.float32)
    if _is_grey(rgb):
        g = layer @ np.array([0.299, 0.587, 0.114], np.float32)
        layer = np.repeat(g[..., None], 3, axis=2)
    sigma = _sharpness_sigma(rgb, lm)
    layer = cv2.GaussianBlur(layer, (0, 0), sigma)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.6, sigma))
    out = img * (1.0 - alpha[..., None]) + layer * alpha[..., None]
    return out.clip(0, 255).astype(np.uint8)


def _print_pattern(h: int, w: int, base: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """A mask's fabric: plain, stripes, dots, checks or blotches of a second colour."""
    layer = np.broadcast_to(base, (h, w, 3)).astype(np.float32).copy()
    kind = rng.choice(["plain", "plain", "stripes", "dots", "checks", "blotches"])
    if kind == "plain":
        return layer
    other = np.array(_MASK_COLOURS[rng.integers(len(_MASK_COLOURS))], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(3.0, rng.uniform(0.04, 0.1) * scale)
    if kind == "stripes":
        ang = rng.uniform(0, np.pi)
        sel = np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * np.pi / period) > 0.3
    elif kind == "checks":
        sel = ((xx // period + yy // period) % 2).astype(bool)
    elif kind == "dots":
        sel = (np.sin(xx * np.pi / period) * np.sin(yy * np.pi / period)) > 0.6
    else:
        noise = rng.normal(size=(max(2, h // 16), max(2, w // 16))).astype(np.float32)
        noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
        sel = noise > 0.6
    layer[sel] = other
    return layer


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + (b - a) * t


def _mask_polygon(lm: np.ndarray, top: str, rng: np.random.Generator) -> np.ndarray:
    """Outline of a face mask: a top edge across the nose (or under it) and the jaw below the chin."""
    p = np.asarray(lm, np.float32)[:, :2]
    scale = _face_scale(lm)
    down = p[152] - p[10]
    down = down / max(np.linalg.norm(down), 1e-3)
    if top == "nose":
        nose = _lerp(p[6], p[4], rng.uniform(0.15, 0.5))
        sides = (_lerp(p[234], p[93], rng.uniform(0.0, 0.5)), _lerp(p[454], p[323], rng.uniform(0.0, 0.5)))
        cheeks = (_lerp(p[116], p[123], 0.5), _lerp(p[345], p[352], 0.5))
    elif top == "below_nose":
        nose = _lerp(p[2], p[0], rng.uniform(0.1, 0.4))
        sides = (_lerp(p[93], p[132], 0.4), _lerp(p[323], p[361], 0.4))
        cheeks = (_lerp(p[206], p[207], 0.5), _lerp(p[426], p[427], 0.5))
    else:  # chin: the top edge sits under the lower lip
        nose = _lerp(p[17], p[152], rng.uniform(0.35, 0.55))
        sides = (_lerp(p[132], p[58], 0.7), _lerp(p[361], p[288], 0.7))
        cheeks = (_lerp(p[172], p[150], 0.2), _lerp(p[397], p[379], 0.2))
    top_edge = [sides[0], cheeks[0], nose, cheeks[1], sides[1]]
    start = {"nose": 0, "below_nose": 2, "chin": 4}[top]
    jaw = _pts(lm, mesh.JAW[start : len(mesh.JAW) - start])[::-1]
    centre = p[list(mesh.JAW)].mean(0)
    hang = rng.uniform(0.04, 0.12) * scale
    # the fabric stands off the jaw and hangs below the chin
    jaw = (
        centre
        + (jaw - centre) * rng.uniform(1.02, 1.08)
        + down
        * hang
        * np.linspace(0.3, 1.0, len(jaw))[:, None]
        * np.sin(np.linspace(0.15, np.pi - 0.15, len(jaw)))[:, None]
    )
    return np.concatenate([np.array(top_edge), jaw])


def mask(rgb: np.ndarray, lm: np.ndarray, rng: np.random.Generator, *, top: str = "nose") -> np.ndarray:
    """A surgical, cloth or KF94 mask; ``top`` is ``"nose"`` (worn), ``"below_nose"`` or ``"chin"``."""
    h, w = rgb.shape[:2]
    scale = _face_scale(lm)
    poly = _mask_polygon(lm, top, rng)
    alpha = _poly_alpha((h, w), [poly], 0.6)
    base = np.array(_MASK_COLOURS[rng.integers(len(_MASK_COLOURS))], np.float32)
    layer = _print_pattern(h, w, base, rng, scale)
    style = rng.choice(["surgical", "cloth", "kf94"])
    seams = np.ones((h, w), np.float32)
    if style == "surgical":  # horizontal pleats
        y0, y1 = poly[:, 1].min(), poly[:, 1].max()
        for t in (0.3, 0.5, 0.7):
            y = int(y0 + t * (y1 - y0))
            cv2.line(seams, (0, y), (w, y + int(rng.uniform(-3, 3))), 0.8, max(1, int(0.01 * scale)))
    elif style == "kf94":  # a vertical seam from nose to chin
        a, b = poly[2], _pts(lm, [152])[0]
        cv2.line(seams, tuple(int(v) for v in a), tuple(int(v) for v in b), 0.82, max(1, int(0.012 * scale)))
    seams = cv2.GaussianBlur(seams, (0, 0), max(0.8, 0.006 * scale))
    layer = layer * seams[..., None]
    out = _composite(rgb, layer, alpha, lm, rng, shade=rng.uniform(0.5, 0.9))
    # ear loops
    loops = np.zeros((h, w), np.float32)
    for corner, ear in ((poly[0], lm[127]), (poly[4], lm[356])):
        cv2.line(
            loops,
            tuple(int(v) for v in corner),
            tuple(int(v) for v in ear[:2]),
            1.0,
            max(1, int(0.01 * scale)),
        )
    loop_colour = np.broadcast_to(base * 0.95, (h, w, 3)).astype(np.float32)
    return _composite(out, loop_colour, loops * 0.9, lm, rng, shade=0.5)


def gaiter(rgb: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A neck gaiter or scarf pulled up over the nose: wider than the face, down off the photo."""
    p = np.asarray(lm, np.float32)[:, :2]
    h, w = rgb.shape[:2]
    scale = _face_scale(lm)
    nose = _lerp(p[6], p[4], rng.uniform(0.3, 0.7))
    left = p[234] + (p[234] - p[454]) * 0.12
    right = p[454] + (p[454] - p[234]) * 0.12
    top = [left, _lerp(p[116], p[123], 0.5), nose, _lerp(p[345], p[352], 0.5), right]
    bottom = [right + np.array([0.1 * scale, 0.9 * scale]), left + np.array([-0.1 * scale, 0.9 * scale])]
    alpha = _poly_alpha((h, w), [np.array(top + bottom)], 0.8)
    base = np.array(_MASK_COLOURS[rng.integers(len(_MASK_COLOURS))], np.float32)
    return _composite(rgb, _print_pattern(h, w, base, rng, scale), alpha, lm, rng, shade=0.8)


def _lens_polys(lm: np.ndarray, rng: np.random.Generator, shape: str) -> list[np.ndarray]:
    p = np.asarray(lm, np.float32)[:, :2]
    polys = []
    grow = rng.uniform(1.0, 1.25)
    for eye, brow in ((mesh.EYE_RIGHT, mesh.BROW_RIGHT_UPPER), (mesh.EYE_LEFT, mesh.BROW_LEFT_UPPER)):
        e = p[list(eye)]
        c = e.mean(0)
        half_w = (e[:, 0].max() - e[:, 0].min()) * 0.5 * 1.55 * grow
        b = p[list(brow)]
        top = c[1] - (c[1] - b[:, 1].mean()) * rng.uniform(0.75, 1.05)
        bottom = c[1] + half_w * rng.uniform(0.75, 1.0)
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        ry_top, ry_bot = c[1] - top, bottom - c[1]
        if shape == "round":
            xs, ys = np.cos(t), np.sin(t)
        else:  # wayfarer / aviator: squarer
            xs = np.sign(np.cos(t)) * np.abs(np.cos(t)) ** 0.5
            ys = np.sign(np.sin(t)) * np.abs(np.sin(t)) ** 0.6
        y = np.where(ys < 0, c[1] + ys * ry_top, c[1] + ys * ry_bot)
        polys.append(np.stack([c[0] + xs * half_w, y], 1))
    return polys


def glasses(
    rgb: np.ndarray, lm: np.ndarray, rng: np.random.Generator, *, darkness: float = 0.9
) -> np.ndarray:
    """Sunglasses (``darkness`` ~0.9) or tinted glasses (~0.6): lenses, frame, bridge and a glint."""
    h, w = rgb.shape[:2]
    scale = _face_scale(lm)
    polys = _lens_polys(lm, rng, rng.choice(["round", "square"]))
    lens = _poly_alpha((h, w), polys, 0.5)
    tint = np.array(
        rng.choice([(18, 18, 22), (40, 30, 20), (20, 35, 30), (30, 30, 60), (70, 40, 20)]), np.float32
    )
    layer = np.broadcast_to(tint, (h, w, 3)).astype(np.float32).copy()
    # a glint: a bright diagonal streak across each lens
    streak = np.zeros((h, w), np.float32)
    for poly in polys:
        c = poly.mean(0)
        d = rng.uniform(0.05, 0.1) * scale
        cv2.line(
            streak,
            (int(c[0] - d), int(c[1] + d)),
            (int(c[0] + d), int(c[1] - d)),
            1.0,
            max(1, int(0.02 * scale)),
        )
    streak = cv2.GaussianBlur(streak, (0, 0), 0.02 * scale) * rng.uniform(0.2, 0.6) * lens
    layer = layer + streak[..., None] * 200.0
    out = _composite(rgb, layer, lens * darkness, lm, rng, shade=0.3)
    frame = np.zeros((h, w), np.float32)
    thick = max(1, int(rng.uniform(0.012, 0.03) * scale))
    for poly in polys:
        cv2.polylines(frame, [np.round(poly).astype(np.int32)], True, 1.0, thick, lineType=cv2.LINE_AA)
    a, b = polys[0][np.argmax(polys[0][:, 0])], polys[1][np.argmin(polys[1][:, 0])]
    cv2.line(frame, tuple(int(v) for v in a), tuple(int(v) for v in b), 1.0, thick)
    p = np.asarray(lm, np.float32)
    for poly, ear in ((polys[0], p[234]), (polys[1], p[454])):
        end = poly[np.argmin(np.abs(poly[:, 0] - ear[0]))]
        cv2.line(frame, tuple(int(v) for v in end), (int(ear[0]), int(ear[1])), 1.0, thick)
    fc = np.array(rng.choice([(15, 15, 15), (90, 60, 30), (170, 150, 90), (120, 120, 125)]), np.float32)
    return _composite(out, np.broadcast_to(fc, (h, w, 3)).astype(np.float32), frame, lm, rng, shade=0.4)


def _skin_colour(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    p = np.asarray(lm, np.float32)[:, :2]
    samples = []
    r = max(2, int(0.03 * _face_scale(lm)))
    for i in (50, 280, 101, 330, 151):
        x, y = int(p[i, 0]), int(p[i, 1])
        patch = rgb[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3)
        if len(patch):
            samples.append(patch)
    return np.median(np.concatenate(samples), axis=0).astype(np.float32)


def _hand_alpha(shape: tuple[int, int], lm: np.ndarray, rng: np.random.Generator, target: str):
    """A palm and four fingers laid across the mouth (from below) or across both eyes (from the side)."""
    p = np.asarray(lm, np.float32)[:, :2]
    scale = _face_scale(lm)
    h, w = shape
    alpha = np.zeros(shape, np.float32)
    creases = np.zeros(shape, np.float32)
    ridges = np.zeros(shape, np.float32)
    if target == "mouth":
        centre = _lerp(p[13], p[14], 0.5) + np.array([rng.uniform(-0.08, 0.08) * scale, 0.02 * scale])
        finger_len, finger_w, across = 0.55 * scale, 0.09 * scale, np.array([1.0, 0.0])
        rows = 4
        origin = centre + np.array([-0.3 * scale, -0.11 * scale])
        angle = rng.uniform(-0.25, 0.25)
    else:
        centre = _lerp(p[159], p[386], 0.5)
        finger_len, finger_w, across = 0.75 * scale, 0.1 * scale, np.array([1.0, 0.0])
        rows = 3
        origin = centre + np.array([-0.45 * scale, -0.12 * scale])
        angle = rng.uniform(-0.15, 0.15)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    down = rot @ np.array([0.0, 1.0], np.float32)
    along = rot @ across.astype(np.float32)
    thick = max(1, int(finger_w))
    for k in range(rows):
        a = origin + down * finger_w * 1.02 * k
        b = a + along * finger_len * rng.uniform(0.9, 1.05)
        cv2.line(alpha, tuple(int(v) for v in a), tuple(int(v) for v in b), 1.0, thick, lineType=cv2.LINE_AA)
        cv2.circle(alpha, tuple(int(v) for v in b), thick // 2, 1.0, -1, lineType=cv2.LINE_AA)
        # each finger is round: lit along its middle, darker towards its sides
        cv2.line(ridges, tuple(int(v) for v in a), tuple(int(v) for v in b), 1.0, max(1, thick // 3))
        gap_a, gap_b = a + down * finger_w * 0.5, b + down * finger_w * 0.5
        if k < rows - 1:
            cv2.line(
                creases, tuple(int(v) for v in gap_a), tuple(int(v) for v in gap_b), 1.0, max(1, thick // 7)
            )
        for t in (0.35, 0.65):  # knuckle creases across each finger
            q = _lerp(a, b, t)
            cv2.line(
                creases,
                tuple(int(v) for v in q - down * finger_w * 0.4),
                tuple(int(v) for v in q + down * finger_w * 0.4),
                0.5,
                max(1, thick // 12),
            )
    # the palm continues past the fingers' base, off towards the side of the photo
    base = origin + down * finger_w * (rows - 1) * 0.5
    palm = np.array(
        [
            base - down * finger_w * 0.6,
            base + down * finger_w * (rows - 0.2),
            base + down * finger_w * (rows + 1.5) - along * 0.5 * scale,
            base - down * finger_w * 0.4 - along * 0.5 * scale,
        ]
    )
    cv2.fillPoly(alpha, [np.round(palm).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    ridges = cv2.GaussianBlur(ridges, (0, 0), max(1.0, finger_w * 0.3))
    ridges = ridges / max(float(ridges.max()), 1e-3)
    cv2.fillPoly(ridges, [np.round(palm).astype(np.int32)], 0.8)
    return np.clip(alpha, 0, 1), cv2.GaussianBlur(creases, (0, 0), max(0.7, 0.004 * scale)), ridges


def hand(rgb: np.ndarray, lm: np.ndarray, rng: np.random.Generator, *, target: str = "mouth") -> np.ndarray:
    """The person's own hand (their skin colour, a little ruddier) over the mouth or the eyes."""
    h, w = rgb.shape[:2]
    alpha, creases, ridges = _hand_alpha((h, w), lm, rng, target)
    skin = _skin_colour(rgb, lm) * np.array(
        [rng.uniform(0.95, 1.08), rng.uniform(0.88, 1.0), rng.uniform(0.85, 1.0)]
    )
    relief = (1.0 - 0.35 * creases) * (0.8 + 0.25 * ridges)
    layer = np.broadcast_to(skin, (h, w, 3)).astype(np.float32) * relief[..., None]
    return _composite(rgb, layer, alpha, lm, rng, shade=rng.uniform(0.3, 0.7))


def cap_brim(rgb: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A cap pulled low: the brim hides the brows and the top of the eyes, its shadow the rest."""
    p = np.asarray(lm, np.float32)[:, :2]
    h, w = rgb.shape[:2]
    scale = _face_scale(lm)
    eye_y = _lerp(p[159], p[145], rng.uniform(0.0, 0.5))
    eye_y2 = _lerp(p[386], p[374], rng.uniform(0.0, 0.5))
    wide = 0.25 * scale
    brim = np.array(
        [
            p[234] + np.array([-wide, -0.9 * scale]),
            p[454] + np.array([wide, -0.9 * scale]),
            np.array([p[454, 0] + wide, eye_y2[1] - 0.05 * scale]),
            eye_y2,
            eye_y,
            np.array([p[234, 0] - wide, eye_y[1] - 0.05 * scale]),
        ]
    )
    # the shadow falls over the whole eye band below the brim
    shadow_poly = np.array(
        [
            brim[5],
            brim[2],
            np.array([brim[2, 0], p[6, 1] + 0.04 * scale]),
            np.array([brim[5, 0], p[6, 1] + 0.04 * scale]),
        ]
    )
    shadow = _poly_alpha((h, w), [shadow_poly], 0.04 * scale) * rng.uniform(0.55, 0.8)
    dark = rgb.astype(np.float32) * (1.0 - shadow[..., None])
    out = dark.clip(0, 255).astype(np.uint8)
    col = np.array(_MASK_COLOURS[rng.integers(len(_MASK_COLOURS))], np.float32) * 0.8
    return _composite(out, _print_pattern(h, w, col, rng, scale), _poly_alpha((h, w), [brim], 0.7), lm, rng)


def fringe(rgb: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A heavy fringe of hair hanging over both eyes: dense strands of one hair colour."""
    p = np.asarray(lm, np.float32)[:, :2]
    h, w = rgb.shape[:2]
    scale = _face_scale(lm)
    x0, x1 = p[234, 0] - 0.05 * scale, p[454, 0] + 0.05 * scale
    top = p[10, 1] - 0.15 * scale
    bottom = max(p[145, 1], p[374, 1]) + rng.uniform(0.03, 0.1) * scale
    alpha = np.zeros((h, w), np.float32)
    strands = np.zeros((h, w), np.float32)
    n = int(rng.integers(160, 260))
    width = max(1, int(0.012 * scale))
    for _ in range(n):
        x = rng.uniform(x0, x1)
        end = bottom + rng.normal(0, 0.03 * scale)
        dx = rng.normal(0, 0.05 * scale)
        pts = np.array([[x, top], [x + dx * 0.5, (top + end) / 2], [x + dx, end]], np.int32)
        cv2.polylines(alpha, [pts], False, 1.0, width * 3, lineType=cv2.LINE_AA)
        cv2.polylines(strands, [pts], False, rng.uniform(0.6, 1.0), width, lineType=cv2.LINE_AA)
    alpha = np.clip(alpha, 0, 1)
    col = np.array(_HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))], np.float32)
    layer = np.broadcast_to(col, (h, w, 3)).astype(np.float32) * (0.8 + 0.35 * strands[..., None])
    return _composite(rgb, layer, alpha * rng.uniform(0.9, 1.0), lm, rng, shade=0.6)


def _mask_worn(rgb, lm, rng):
    return mask(rgb, lm, rng, top="nose")


def _mask_below(rgb, lm, rng):
    return mask(rgb, lm, rng, top="below_nose")


def _mask_chin(rgb, lm, rng):
    return mask(rgb, lm, rng, top="chin")


DRAW: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]] = {
    "mask": _mask_worn,
    "mask_below_nose": _mask_below,
    "mask_on_chin": _mask_chin,
    "gaiter": gaiter,
    "hand_mouth": lambda rgb, lm, rng: hand(rgb, lm, rng, target="mouth"),
    "sunglasses": lambda rgb, lm, rng: glasses(rgb, lm, rng, darkness=rng.uniform(0.85, 0.97)),
    "tinted_glasses": lambda rgb, lm, rng: glasses(rgb, lm, rng, darkness=rng.uniform(0.6, 0.78)),
    "hand_eyes": lambda rgb, lm, rng: hand(rgb, lm, rng, target="eyes"),
    "cap_brim": cap_brim,
    "fringe": fringe,
}


def occlude(rgb: np.ndarray, landmarks: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """A copy of ``rgb`` with one occluder of ``kind`` (a key of :data:`KINDS`) on the face."""
    if kind not in DRAW:
        raise ValueError(f"unknown occluder {kind!r}")
    rng = np.random.default_rng(seed)
    return DRAW[kind](np.ascontiguousarray(rgb[..., :3]), np.asarray(landmarks, np.float32), rng)
