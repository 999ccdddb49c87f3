"""Painting one person: hair, head, neck and shoulders, then the face parts on top."""

from __future__ import annotations

import math

import numpy as np

from edu_core.samples.canvas import _Canvas, _ellipse, _Head, _skin_shader
from edu_core.samples.parts import _draw_brows, _draw_eyes, _draw_glasses, _draw_mouth, _draw_occluder
from edu_core.samples.spec import _BROW_Y, _HAIR_COLOURS, FaceSpec, Person


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
