"""The synthetic sample faces: specs, the painter, the committed set and its quality gates."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edu_core import samples
from edu_core.labels import KOREAN7_CLASSES, LESSON_CLASSES
from edu_core.samples import SampleConfig, SampleError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_images"
SEED = 7  # the seed sample_images/README.md names


# --- specs -----------------------------------------------------------------------------------


def test_random_spec_rejects_unknown_classes() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(SampleError):
        samples.random_spec(rng, "happy")
    with pytest.raises(SampleError):
        samples.random_spec(rng, "anxiety")  # a Korean-7 class is not a lesson class
    with pytest.raises(SampleError):
        samples.random_spec(rng, "joy", classes="five")  # type: ignore[arg-type]
    with pytest.raises(SampleError):
        samples.random_identity(rng, "x", age_group="baby")


@pytest.mark.parametrize("name", sorted(set(LESSON_CLASSES) | set(KOREAN7_CLASSES)))
def test_expressions_are_built_from_the_lesson_pieces(name: str) -> None:
    rng = np.random.default_rng(1)
    exprs = [samples.expression_for(name, rng) for _ in range(40)]
    mean = {
        f: float(np.mean([getattr(e, f) for e in exprs])) for f in ("smile", "brow_inner_up", "brow_down")
    }
    assert all(e.name == name and 0.0 <= e.intensity <= 1.0 for e in exprs)
    if name == "joy":
        assert mean["smile"] > 0.4
    if name in ("sadness", "hurt"):
        assert mean["smile"] < -0.2 and mean["brow_inner_up"] > 0.4  # the shared sad brows
    if name == "anger":
        # a shout hardly lowers the brows and a held-back anger not at all, so the mean is lower
        assert mean["brow_down"] > 0.3
    if name == "neutral":
        assert max(abs(v) for v in mean.values()) < 0.15
    # strength really varies from subtle to strong
    ks = [e.intensity for e in exprs]
    assert min(ks) < 0.4 and max(ks) > 0.8


def test_surprise_and_anger_share_wide_eyes() -> None:
    rng = np.random.default_rng(2)
    wide = {c: np.mean([samples.expression_for(c, rng).eye_open for _ in range(60)]) for c in LESSON_CLASSES}
    assert wide["surprise"] > wide["anger"] > wide["neutral"]


def test_lesson_classes_come_in_styles_with_rarer_ones_near_a_neighbour() -> None:
    assert set(samples.LESSON_STYLES) == set(LESSON_CLASSES)
    assert all(abs(sum(p for _, p in st) - 1.0) < 1e-9 for st in samples.LESSON_STYLES.values())
    rng = np.random.default_rng(3)
    draws = {c: [samples.expression_for(c, rng) for _ in range(300)] for c in ("joy", "surprise", "anger")}

    def share(cls: str, test) -> float:
        return float(np.mean([bool(test(e)) for e in draws[cls]]))

    # joy: laughs with teeth, and smiles carried mostly by the eyes (close to a resting face)
    # (a held-back laugh hardly opens the mouth, so fewer than the style's 30 % count here)
    assert 0.1 < share("joy", lambda e: e.mouth_open > 0.25 and e.teeth > 0.5) < 0.45
    assert 0.1 < share("joy", lambda e: e.smile < 0.45 and e.mouth_open < 0.15 and e.cheek_raise > 0.3) < 0.4
    # surprise: an open mouth without raised brows looks like a shout except for its round shape
    mouth_only = share("surprise", lambda e: e.brow_inner_up < 0.3 and e.mouth_open > 0.3)
    assert 0.15 < mouth_only < 0.45
    assert all(
        e.mouth_round >= 0.45 for e in draws["surprise"] if e.brow_inner_up < 0.3 and e.mouth_open > 0.3
    )
    # anger: shouts keep the brows nearly level, open a stretched mouth and widen the eyes
    shout = [e for e in draws["anger"] if e.mouth_open > 0.3]
    assert 0.2 < len(shout) / 300 < 0.5
    # nearly all: the faintest shouts (intensity near 0) can lose their wide eyes to the random leak
    # (a shout of little strength fades a little towards a resting face, its stretch too)
    assert np.mean([e.brow_down < 0.4 and e.eye_open > 0.2 and e.mouth_stretch >= 0.25 for e in shout]) > 0.9
    # most angry faces that are neither shouts nor held back still lower the brows
    shown = [e for e in draws["anger"] if e.mouth_open <= 0.3 and e.intensity >= 0.15]
    assert np.mean([e.brow_down > 0.4 for e in shown]) > 0.55
    # everyday strength: subtle faces are more common than strong ones
    ks = np.array([e.intensity for c in draws for e in draws[c]])
    assert np.mean(ks < 0.35) > np.mean(ks > 0.8)


def test_children_show_feelings_like_a_picture_book_and_hold_back_less() -> None:
    """The age groups differ in how they show a class, not only in face size (issue 16)."""
    for ages in samples.AGE_STYLES.values():
        assert set(ages) == set(LESSON_CLASSES)
        assert all(abs(sum(p for _, p in st) - 1.0) < 1e-9 for st in ages.values())
    rng = np.random.default_rng(5)
    seen: dict[str, dict[str, float]] = {}
    for age in ("child", "adult"):
        people = [samples.random_identity(rng, f"p{i}", age_group=age) for i in range(300)]
        joy = [samples.expression_for("joy", rng, identity=p) for p in people]
        anger = [samples.expression_for("anger", rng, identity=p) for p in people]
        seen[age] = {
            "held_back": float(np.mean([e.intensity < 0.1 for e in joy + anger])),
            "laugh": float(np.mean([e.teeth > 0.5 and e.mouth_open > 0.25 for e in joy])),
            "shout": float(np.mean([e.mouth_open > 0.3 for e in anger])),
        }
    child, adult = seen["child"], seen["adult"]
    assert child["laugh"] > 2 * adult["laugh"] and child["shout"] > 2 * adult["shout"]
    assert 0.12 < adult["held_back"] < 0.3 and child["held_back"] < 0.7 * adult["held_back"]


def test_a_held_back_feeling_sits_among_resting_faces() -> None:
    rng = np.random.default_rng(6)
    faint = [samples.expression_for("sadness", rng, intensity=0.02) for _ in range(50)]
    clear = [samples.expression_for("sadness", rng, intensity=0.8) for _ in range(50)]
    rest = [samples.expression_for("neutral", rng) for _ in range(50)]

    def brows(es) -> float:
        return float(np.mean([e.brow_inner_up for e in es]))

    assert abs(brows(faint) - brows(rest)) < 0.15 < brows(clear) - brows(rest)


# --- the painter ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(640, 480), (300, 400)])
def test_render_is_deterministic_and_reports_the_face_box(size: tuple[int, int]) -> None:
    spec = samples.random_spec(np.random.default_rng(3), "surprise", classes="lesson")
    a = samples.render(spec, size=size)
    b = samples.render(spec, size=size)
    assert a.rgb.shape == (size[1], size[0], 3) and a.rgb.dtype == np.uint8
    assert np.array_equal(a.rgb, b.rgb)
    x0, y0, x1, y1 = a.face_box
    assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]
    # the face box holds skin, not background: it is brighter inside than the seed noise alone
    face = a.rgb[y0:y1, x0:x1].astype(float)
    assert face.std() > 10
    # annotator-style boxes are taller than wide
    assert 1.0 < (y1 - y0) / (x1 - x0) < 1.8


def test_render_changes_with_the_expression_only_around_the_face() -> None:
    spec = samples.random_spec(np.random.default_rng(4), "neutral")
    person = spec.people[0]
    smiling = replace(spec, people=(replace(person, expression=samples.Expression("joy", 1.0, smile=1.0)),))
    a = samples.render(spec).rgb.astype(int)
    b = samples.render(smiling).rgb.astype(int)
    changed = np.argwhere(np.abs(a - b).sum(axis=2) > 30)
    assert len(changed) > 200  # the mouth really changed
    x0, y0, x1, y1 = samples.render(spec).face_box
    ys, xs = changed[:, 0], changed[:, 1]
    assert ys.min() >= y0 and ys.max() <= y1 + 5 and xs.min() >= x0 - 5 and xs.max() <= x1 + 5


def test_empty_scene_and_bad_sizes() -> None:
    spec = samples.random_scene(np.random.default_rng(5), ())
    r = samples.render(spec, size=(200, 150))
    assert r.face_box is None and r.boxes == ()
    with pytest.raises(SampleError):
        samples.render(spec, size=(10, 10))


def test_two_people_give_two_boxes() -> None:
    spec, size = samples.reject_spec("multiple_faces", np.random.default_rng(6))
    r = samples.render(spec, size=size)
    assert len(r.boxes) == 2 and r.face_box == r.boxes[0]


# --- the sample set ------------------------------------------------------------------------------


def test_plan_splits_identities_and_balances_classes() -> None:
    plan = samples.sample_plan(SEED)
    rows = [p.row for p in plan]
    expr = [r for r in rows if not r["expected_reason"]]
    counts = Counter((r["class"], r["split"]) for r in expr)
    for cls in LESSON_CLASSES:
        assert counts[(cls, "train")] == 60 and counts[(cls, "test")] == 20
    splits = defaultdict(set)
    per_identity = defaultdict(list)
    for r in expr:
        splits[r["identity"]].add(r["split"])
        per_identity[r["identity"]].append(r["class"])
    assert all(len(s) == 1 for s in splits.values())  # nobody is in both train and test
    assert all(len(c) == len(set(c)) for c in per_identity.values())  # one picture per class each
    assert {r["age_group"] for r in expr} == set(samples.AGE_GROUPS)
    assert {r["background"] for r in expr} == set(samples.BACKGROUNDS)
    rejects = Counter(r["expected_reason"] for r in rows if r["expected_reason"])
    assert set(rejects) == set(samples.REJECT_REASONS) and min(rejects.values()) >= 15
    assert len({p.file for p in plan}) == len(plan)


@pytest.mark.slow
def test_generation_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    cfg = SampleConfig(train_per_class=1, test_per_class=0, rejects_per_reason=1)
    a = samples.generate_samples(tmp_path / "a", SEED, cfg)
    samples.generate_samples(tmp_path / "b", SEED, cfg)
    assert a["files"] == 15
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 15 + 3  # + labels.csv, README.md, contact sheet
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    # a smaller plan paints the same first pictures as the full one
    other = samples.generate_samples(tmp_path / "c", SEED + 1, cfg)
    assert other["files"] == 15
    first = "joy/joy_train_train001.jpg"
    assert (tmp_path / "a" / first).read_bytes() != (tmp_path / "c" / first).read_bytes()


def test_cli_dispatches_aihub_to_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from edu_core.korean7 import demo
    from edu_core.samples.__main__ import run

    seen = []
    monkeypatch.setattr(demo, "main", lambda argv: seen.append(list(argv)) or 0)
    assert run(["aihub", "--out", "x", "--per-class", "3", "--seed", "2"]) == 0
    assert seen == [["--out", "x", "--per-class", "3", "--seed", "2"]]


# --- the committed folder ------------------------------------------------------------------------


def _committed_rows() -> list[dict[str, str]]:
    with open(SAMPLE_DIR / "labels.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_committed_folder_matches_labels_and_size_limit() -> None:
    rows = _committed_rows()
    assert tuple(rows[0].keys()) == samples.LABEL_COLUMNS
    listed = {r["file"] for r in rows}
    on_disk = {p.relative_to(SAMPLE_DIR).as_posix() for p in SAMPLE_DIR.rglob("*.jpg")} - {
        "contact_sheet.jpg"
    }
    assert listed == on_disk
    for r in rows:
        folder = r["file"].split("/")
        assert folder[0] == (r["class"] if not r["expected_reason"] else "rejects")
        if r["expected_reason"]:
            assert folder[1] == r["expected_reason"]
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert total <= 30 * 1024 * 1024
    readme = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    assert f"python -m edu_core.samples --out sample_images --seed {SEED}" in readme
    assert (SAMPLE_DIR / "contact_sheet.jpg").stat().st_size > 50_000


def test_committed_files_are_what_the_seed_paints() -> None:
    rows = {r["file"]: r for r in _committed_rows()}
    plan = samples.sample_plan(SEED)
    assert [p.row for p in plan] == [rows[p.file] for p in plan]
    picks = [plan[0], plan[310], next(p for p in plan if p.row["expected_reason"] == "occluded_mouth")]
    for item in picks:
        assert samples.paint(item) == (SAMPLE_DIR / item.file).read_bytes(), item.file


@pytest.fixture(scope="module")
def report() -> dict:
    return samples.quality_report(SAMPLE_DIR)


@pytest.mark.timeout(240)
def test_gate_landmarker_finds_exactly_one_face(report: dict) -> None:
    assert report["expression_images"] == 400
    assert report["detection"] >= 0.98, report["problems"]


@pytest.mark.timeout(240)
def test_gate_expressions_read_as_intended(report: dict) -> None:
    b = report["blendshapes"]
    others = [c for c in LESSON_CLASSES if c != "joy"]
    assert all(b["joy"]["mouthSmile"] > b[c]["mouthSmile"] for c in others)
    assert b["surprise"]["browInnerUp"] > b["neutral"]["browInnerUp"] + 0.3
    assert b["surprise"]["eyeWide"] == max(b[c]["eyeWide"] for c in LESSON_CLASSES)
    assert b["surprise"]["jawOpen"] == max(b[c]["jawOpen"] for c in LESSON_CLASSES)
    assert b["anger"]["browDown"] == max(b[c]["browDown"] for c in LESSON_CLASSES)
    assert b["sadness"]["mouthFrown"] == max(b[c]["mouthFrown"] for c in LESSON_CLASSES)
    assert b["sadness"]["browInnerUp"] > b["neutral"]["browInnerUp"] + 0.3
    for key, owner in (
        ("mouthSmile", "joy"),
        ("jawOpen", "surprise"),
    ):
        assert b["neutral"][key] < b[owner][key] / 2
    # some people rest with wide eyes, and a held-back surprise hardly widens them
    assert b["neutral"]["eyeWide"] < 0.75 * b["surprise"]["eyeWide"]
    # brows knitted at rest are part of some people's resting faces, so neutral's mean comes closer
    assert b["neutral"]["browDown"] < 0.8 * b["anger"]["browDown"]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("reason", samples.REJECT_REASONS)
def test_gate_extractor_rejects_with_the_expected_reason(report: dict, reason: str) -> None:
    got = report["rejects"][reason]
    assert got["n"] >= 15
    # The gate is fitted on real photos only. Two of the five painted fringes, both over
    # children's round eyes, read as uncovered to it; README's known limits name them.
    assert got["correct"] >= (0.85 if reason == "occluded_eyes" else 0.9), got["got"]


def test_check_cli_prints_the_report_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert samples.main(["check", "--dir", str(SAMPLE_DIR), "--limit", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["expression_images"] == len(LESSON_CLASSES)
    assert set(out["rejects"]) == set(samples.REJECT_REASONS)
    assert all(r["n"] == 1 for r in out["rejects"].values())
