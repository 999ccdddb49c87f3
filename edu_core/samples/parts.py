"""The face parts that carry an expression (eyes, brows, mouth), glasses and occluders."""

from __future__ import annotations

import math

import numpy as np

from edu_core.samples.canvas import _Canvas, _ellipse, _Head
from edu_core.samples.recipes import _pick
from edu_core.samples.spec import _BD_ALL, _BD_INNER, Person, SampleError


def _draw_eyes(cv: _Canvas, head: _Head, rng: np.random.Generator, ey: float, px: float) -> None:
    ident = head.ident
    e = head.p.expression
    ew = 0.2 * ident.eye_size
    tall = ident.eye_size * ident.eye_height
    open_ = 0.085 * tall * (1.0 + 0.55 * e.eye_open if e.eye_open > 0 else 1.0 + 0.55 * e.eye_open)
    lower = 0.05 * tall * (1.0 - 0.5 * e.cheek_raise)
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
    full = ident.mouth_height
    th_u = full * (0.075 - 0.035 * e.lip_press) * (1 - t**2) ** 0.5 + 0.005
    th_l = full * (0.1 - 0.045 * e.lip_press) * (1 - t**2) ** 0.6 + 0.005
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
