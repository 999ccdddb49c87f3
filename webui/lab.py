"""Experiment lab page widgets: data, settings, the probe photo, results, and the fairness section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from edu_core import charts, fairness, i18n
from edu_core import experiments as ex
from edu_core.dataset import SAMPLE_DIR
from edu_core.errors import EduError
from edu_core.faces import extract
from webui.common import class_name, lang, renamed, tr
from webui.fairness import fairness_view, last_test_hits
from webui.resources import landmarker_pool, store


def _fixed_class_name() -> Callable[[str], str]:
    """``class_name`` bound to this run's language: widgets call format functions outside the run."""
    # Never cached: the language and a class's renamings belong to one session, not the server.
    lg, names = lang(), renamed()
    return lambda class_id: i18n.class_name(class_id, lg, renamed=names)


@st.cache_resource(show_spinner=False)
def lab_sample_data() -> ex.LabData:
    """The committed sample faces, shared by every session (they are nobody's photos).

    Loaded once per server: the 400 sample faces took seconds on every rerun of the lab page.
    The data is never modified (experiments draw copies of its tuples).
    """

    return ex.load_folder(SAMPLE_DIR)


@st.cache_resource(show_spinner=False)
def lab_embed_seconds() -> float:
    """How fast this machine runs the CNN (a property of the server, so shared)."""
    return ex.measure_embed_seconds()


def lab_my_data(sid: int) -> ex.LabData:
    """The student's own labelled faces, reloaded only when their photos or labels change."""
    records = store().list_images(sid, labelled=True)
    stamp = hash(tuple((r.id, r.label, r.status, r.person, r.group) for r in records))
    if st.session_state.get("lab_mine_stamp") != stamp:
        st.session_state["lab_mine_data"] = ex.load_store(store(), sid)
        st.session_state["lab_mine_stamp"] = stamp
    return st.session_state["lab_mine_data"]


def lab_options(kind: str, classes: list[str], data_groups: list[str]) -> dict:
    """The few settings a student may change for each experiment."""
    cols = st.columns(3)
    if kind == "size":
        pair = cols[0].toggle(tr("lab.pair_only"), key="lab_pair")
        small = cols[1].number_input(tr("lab.small"), 2, 60, 20, key="lab_small")
        large = cols[2].number_input(tr("lab.large"), 2, 60, 60, key="lab_large")
        return {"sizes": (int(small), int(large)), "classes": ("joy", "anger") if pair else ()}
    if kind == "imbalance":
        many = cols[0].number_input(tr("lab.count_of", name=class_name("joy")), 2, 60, 40, key="lab_many")
        few = cols[1].number_input(tr("lab.count_of", name=class_name("sadness")), 1, 60, 20, key="lab_few")
        every = cols[2].toggle(tr("lab.all_classes"), value=True, key="lab_all")
        others = [(c, int(many)) for c in classes if c not in ("joy", "sadness")] if every else []
        return {"counts": (("joy", int(many)), ("sadness", int(few)), *others)}
    if kind == "mislabel":
        src = cols[0].selectbox(
            tr("lab.mislabel_class"),
            classes,
            index=classes.index("anger") if "anger" in classes else 0,
            format_func=_fixed_class_name(),
            key="lab_src",
        )
        return {"mislabel_class": src}
    if kind == "groups":
        groups = data_groups or ["adult", "child"]
        base = cols[0].selectbox(
            tr("lab.train_group"),
            groups,
            index=groups.index("adult") if "adult" in groups else 0,
            format_func=ex.group_label(lang()),
            key="lab_group",
        )
        rest = [g for g in groups if g != base] or groups
        added = cols[1].selectbox(
            tr("lab.add_group"),
            rest,
            index=rest.index("child") if "child" in rest else 0,
            format_func=ex.group_label(lang()),
            key="lab_add_group",
        )
        return {"train_groups": (base,), "add_groups": (added,)}
    return {}


#: Fewest training photos per class worth a size comparison (half of it for the small side).
LAB_MIN_PER_CLASS = 4


def _lab_use_sizes(small: int, large: int) -> None:
    st.session_state["lab_small"], st.session_state["lab_large"] = small, large


def lab_size_check(cfg: ex.ExperimentConfig, data: ex.LabData) -> bool:
    """Say which classes lack photos for the chosen sizes and offer sizes the photos allow.

    Without this, a class with 11 photos trained both "20" and "60" on the same photos.
    Returns whether the experiment can run as set.
    """
    short = ex.shortfall(cfg, data)
    if not short:
        return True
    items = " · ".join(
        tr("lab.short_item", name=class_name(c), have=have, need=need) for c, (need, have) in short.items()
    )
    st.warning(tr("lab.short", items=items), icon="📉")
    most = ex.most_per_class(cfg, data)
    if cfg.experiment != "size":
        return False
    if most < LAB_MIN_PER_CLASS:
        st.info(tr("lab.short_none", min=LAB_MIN_PER_CLASS), icon="📸")
        return False
    large = min(most, 60)  # the size inputs stop at 60
    small = large // 2
    st.caption(tr("lab.short_offer", small=small, large=large))
    st.button(
        tr("lab.short_use", small=small, large=large),
        on_click=_lab_use_sizes,
        args=(small, large),
        icon="↔️",
        key="lab_use_sizes",
    )
    return False


def lab_probe_picker(cfg: ex.ExperimentConfig, data: ex.LabData) -> ex.Example | str:
    """The photo every model is asked about: a test photo, or the student's own (upload or camera).

    The first choice, ``"auto"``, lets the run pick the test photo where the two compared
    models differ most: a photo picked by hand often gets the same bars from both.
    """
    tests: list[ex.Example | str] = ["auto", *sorted(data.test, key=lambda e: e.id)]
    name = _fixed_class_name()
    auto_word = tr("lab.probe_auto")
    probe = st.selectbox(
        tr("lab.probe"),
        tests,
        index=0,
        format_func=lambda e: auto_word if e == "auto" else f"{name(e.label)} · {e.id.split('/')[-1]}",
        key=f"lab_probe_{cfg.experiment}",
    )
    up_col, cam_col = st.columns(2)
    own = up_col.file_uploader(
        tr("lab.probe_upload"), type=["jpg", "jpeg", "png", "webp", "heic"], key="lab_upload"
    )
    if cam_col.toggle(tr("lab.probe_camera"), key="lab_cam_on"):  # the camera starts only when asked
        own = cam_col.camera_input(tr("lab.probe_camera"), key="lab_camera") or own
    if own is not None:
        probe = ex.Example(f"upload:{own.name}", "", face=_lab_own_face(own))
    if isinstance(probe, ex.Example):
        st.image(probe.face.crop, width=160)
    return probe


@st.cache_resource(show_spinner=False, max_entries=64)
def _lab_ranked_pairs(fingerprint: str, _data: ex.LabData) -> list:
    """Pairs ranked by how often a model mixes them up, once per data set (keyed by its fingerprint)."""
    return ex.rank_pairs(_data, model="pieces")


def lab_pair_choice(data: ex.LabData) -> dict:
    """The easiest and the hardest pair *in these photos*, named on the page, as the pairs to compare.

    Which pair is hard depends on whose faces they are (on real photos it is rarely the one a
    textbook names), so the lab asks the data: a model of every class is trained a few times
    and the pair it mixes up most is the hard one.
    """
    ranked = _lab_ranked_pairs(data.fingerprint, data)
    if len(ranked) < 2:
        return {}
    (hard, hard_mix), (easy, easy_mix) = ranked[0], ranked[-1]
    st.caption(
        tr(
            "lab.pairs_found",
            hard=f"{class_name(hard[0])}–{class_name(hard[1])}",
            hard_pct=round(100 * hard_mix),
            easy=f"{class_name(easy[0])}–{class_name(easy[1])}",
            easy_pct=round(100 * easy_mix),
        )
    )
    return {"pairs": (easy, hard)}


def _lab_compared_value(result: ex.ExperimentResult, v: ex.VariantResult) -> tuple[float, float, str]:
    """The figure the lesson watches in a variant (mean, sd) and its key in the words."""
    if result.config.experiment in ("imbalance", "mislabel"):
        focus = _lab_focus(result)
        m = v.recall()[focus]
        return m["mean"], m["sd"], "recall"
    if result.config.experiment == "groups":
        added = result.config.add_groups[0]
        m = v.group_accuracy().get(added, v.accuracy())
        return m["mean"], m["sd"], "group"
    m = v.accuracy()
    return m["mean"], m["sd"], "accuracy"


def _lab_focus(result: ex.ExperimentResult) -> str:
    cfg = result.config
    if cfg.experiment == "imbalance":
        counts = dict(cfg.counts)
        return min(result.variants[0].variant.classes, key=lambda c: counts.get(c, 0))
    return cfg.mislabel_class


def lab_effect_text(result: ex.ExperimentResult) -> None:
    """What the class should see, in one sentence, and honestly so when the difference is small.

    The difference counts as clear when it is bigger than the seeds' spread (two sds of the
    noisier side) and at least 3 points; otherwise the page says it is small on these photos.
    """
    if len(result.variants) < 2:
        return
    good_i, bad_i = ex.compared(result.config, result.variants)
    good, bad = result.variants[good_i], result.variants[bad_i]
    g, g_sd, what = _lab_compared_value(result, good)
    b, b_sd, _ = _lab_compared_value(result, bad)
    diff = 100 * (g - b)
    noise = 100 * 2 * max(g_sd, b_sd)
    if what == "recall":
        named = class_name(_lab_focus(result))
    else:
        named = ex.group_label(lang())(result.config.add_groups[0]) if what == "group" else ""
    words = {
        "good": ex.variant_label(good.variant, lang()),
        "bad": ex.variant_label(bad.variant, lang()),
        "good_pct": round(100 * g),
        "bad_pct": round(100 * b),
        "diff": round(abs(diff)),
        "what": tr(f"lab.effect_what.{what}", name=named),
    }
    if diff >= 3 and diff > noise:
        st.success(tr("lab.effect.clear", **words), icon="🔎")
    elif diff <= -3 and -diff > noise:
        st.warning(tr("lab.effect.reverse", **words), icon="🔎")
    else:
        st.info(tr("lab.effect.small", **words), icon="🔎")


def lab_probe_compare(result: ex.ExperimentResult, crop: Any = None) -> None:
    """The probe photo's bars from the two compared models side by side, with the photo itself.

    In the imbalance experiment this is a photo of the scarce class, from the balanced and the
    imbalanced model; for size and wrong labels, the photo where the two differ most.
    """

    if len(result.variants) < 2:
        return
    good_i, bad_i = ex.probe_compared(result.config, result.variants)
    if result.variants[good_i].probe() is None or result.variants[bad_i].probe() is None:
        return
    st.markdown(f"#### {tr('lab.probe_compare')}")
    cols = st.columns([1, 2, 2]) if crop is not None else st.columns(2)
    if crop is not None:
        cols[0].image(crop, width=140)
        cols = cols[1:]
    png = {"toImageButtonOptions": {"format": "png", "scale": 2, "filename": "lab_probe"}}
    for col, i in zip(cols, (bad_i, good_i), strict=True):
        v = result.variants[i]
        probs = {c: m["mean"] for c, m in v.probe().items()}
        with col:
            st.caption(ex.variant_label(v.variant, lang()))
            bars = charts.probability_bars(
                probs, lang=lang(), classes=v.variant.classes, renamed=renamed(), decimals=0
            )
            st.plotly_chart(bars, config=png, key=f"lab_cmp_{v.variant.key}")
            if max(probs.values()) < 0.5:
                st.caption(tr("lab.cannot_tell"))


def _lab_own_face(photo: Any) -> Any:
    """The face in the student's own probe photo, found once per photo."""

    if st.session_state.get("lab_own_id") != photo.file_id:
        with landmarker_pool().acquire() as lm:
            face = extract(photo.getvalue(), landmarker=lm)
        if not face.ok:
            raise EduError(face.reason or "no_face")
        st.session_state["lab_own_id"], st.session_state["lab_own_face"] = photo.file_id, face
    return st.session_state["lab_own_face"]


def lab_pick_past() -> None:
    if st.session_state.get("lab_past") is not None:
        st.session_state["lab_result"] = st.session_state["lab_past"][1]


def _mean_count(value: float) -> str:
    """A mean number of photos: whole numbers without a decimal ("6", not "6.0"), else one ("3.6")."""
    return str(round(value)) if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _lab_variant_panel(v: ex.VariantResult, png: dict) -> None:
    """One variant: its name, the probe photo's probabilities and the confusion matrix."""

    st.markdown(f"#### {ex.variant_label(v.variant, lang())}")
    st.caption(tr("lab.n_train", n=round(v.n_train())))
    if v.detective():
        found = v.detective()
        st.caption(
            tr(
                "lab.detective",
                found=_mean_count(found["found"]),
                planted=_mean_count(found["planted"]),
                runs=len(v.runs),
            )
        )
    if v.probe() is not None:
        probs = {c: m["mean"] for c, m in v.probe().items()}
        st.caption(tr("lab.probe_chart"))
        bars = charts.probability_bars(
            probs, lang=lang(), classes=v.variant.classes, renamed=renamed(), decimals=0
        )
        st.plotly_chart(bars, config=png, key=f"lab_probe_{v.variant.key}")
    st.caption(tr("lab.confusion"))
    matrix = charts.confusion_heatmap(
        np.rint(v.confusion()), classes=v.variant.classes, lang=lang(), renamed=renamed()
    )
    st.plotly_chart(matrix, config=png, key=f"lab_cm_{v.variant.key}")


def lab_show(result: ex.ExperimentResult, probe_crop: Any = None) -> None:
    """What the class should see, accuracy and recall with error bars, the compared probe bars,
    then each variant's probe bars and confusion matrix."""
    s = result.summary()
    # each variant is scored on the test photos of its own classes (a pair: two classes' worth)
    used = sorted({v["n_test"] for v in s["variants"]})
    st.subheader(
        tr(
            "lab.summary",
            experiment=tr(f"lab.exp.{s['experiment']}"),
            model=tr(f"lab.model_name.{s['model']}"),
            repeats=s["repeats"],
            n_test=str(used[0]) if len(used) == 1 else f"{used[0]}–{used[-1]}",
            seconds=round(s["seconds"], 1),
        )
    )
    lab_effect_text(result)
    png = {"toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"lab_{s['experiment']}"}}
    st.plotly_chart(ex.accuracy_figure(result, lang()), config=png, key="lab_acc")
    st.plotly_chart(ex.recall_figure(result, lang()), config=png, key="lab_rec")
    if result.config.experiment == "groups":
        st.plotly_chart(ex.groups_figure(result, lang()), config=png, key="lab_groups")
    lab_probe_compare(result, probe_crop)
    # Three panels a row only for exactly three variants: with five, rows of three squeezed the
    # confusion tables until their labels were cut off.
    per_row = 3 if len(result.variants) == 3 else min(2, len(result.variants))
    for start in range(0, len(result.variants), per_row):
        for col, v in zip(st.columns(per_row), result.variants[start : start + per_row], strict=False):
            with col:
                _lab_variant_panel(v, png)
    d1, d2 = st.columns(2)
    d1.download_button(
        tr("lab.download_csv"),
        ex.result_csv(result),
        f"lab_{s['experiment']}.csv",
        "text/csv",
        icon="📄",
        key="lab_csv",
    )
    d2.download_button(
        tr("lab.download_png"),
        lambda: ex.result_png(result, lang()),
        f"lab_{s['experiment']}.png",
        "image/png",
        icon="🖼️",
        key="lab_png",
    )


def lab_fairness(sid: int) -> None:
    """Lab section: the student's own photos per group (the gate, and their last model's test)."""
    st.subheader(tr("fair.title"))
    hits = last_test_hits(sid)
    rows = fairness.group_table(store().list_images(sid), hits)
    if not fairness.has_groups(rows):
        st.info(tr("fair.lab_no_tags"), icon="🏷️")
        return
    st.caption(tr("fair.lab_intro"))
    fairness_view(rows, key="lab_fairness", model=hits is not None)
