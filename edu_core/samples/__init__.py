"""Privacy-safe synthetic sample faces: a deterministic painter of lifelike illustrated people.

Real photos of students cannot ship with the app, yet the lesson has to run before anyone
uploads a picture and the tests need faces whose truth is known. This module paints people
with numpy and PIL — a shaded head on a neck and shoulders, hair, eyes with whites, iris and
pupil, brows, a nose with shadows, lips — in front of a blurred place from the Korean data
set's ten background categories, then adds camera blur, light fall-off and sensor noise so
the MediaPipe face detector treats the result like a photo.

An expression is assembled from the lesson's "data pieces": eyebrow shape, eye opening and lip
shape, each with a strength. Every class recipe has a random intensity from subtle to strong
and overlaps with its neighbours the way real faces do (surprise and anger both widen the eyes,
sadness and hurt share raised inner brows). Each lesson class also comes in a few styles, some
of them less common (:data:`LESSON_STYLES`: a laugh or a smile with the eyes only, a shout, an
"O" mouth without raised brows ...), so a model trained on 20 images per class meets too few of
the rarer styles and makes visibly more mistakes than one trained on 60. How often each style
is used depends on the age group (:data:`AGE_STYLES`: children laugh, pout and shout, grown-ups
mostly hold back), every person has a resting face of their own, and some feelings are held
back so far that the face looks neutral, as in everyday photos.

Public API (stable, used by ``edu_core.korean7.demo``):

- :class:`Identity`, :class:`Expression`, :class:`Person`, :class:`FaceSpec` — frozen specs
- :func:`random_identity`, :func:`expression_for`, :func:`random_person`, :func:`random_scene`,
  :func:`random_spec`, :func:`reject_spec` — draw specs from a ``numpy.random.Generator``
- :func:`render` — paint a spec at any size, returning :class:`Rendered` (RGB + true face boxes)
- :func:`sample_plan`, :func:`paint`, :func:`generate_samples` — the committed ``sample_images/``
- :func:`quality_report` — the quality gates measured with the real MediaPipe model and extractor
- CLI: ``python -m edu_core.samples --out sample_images --seed 7 [--json]``,
  ``python -m edu_core.samples check --dir sample_images [--json]`` and
  ``python -m edu_core.samples aihub --out DIR --per-class N [--seed S]``
"""

from __future__ import annotations

from edu_core.samples.catalog import (
    LABEL_COLUMNS,
    PlannedImage,
    contact_sheet,
    generate_samples,
    paint,
    reject_spec,
    sample_plan,
)
from edu_core.samples.cli import main
from edu_core.samples.quality import REPORT_BLENDSHAPES, quality_report, read_labels
from edu_core.samples.recipes import (
    AGE_STYLES,
    LESSON_STYLES,
    expression_for,
    random_identity,
    random_person,
    random_scene,
    random_spec,
)
from edu_core.samples.render import encode_jpeg, render
from edu_core.samples.spec import (
    AGE_GROUPS,
    BACKGROUNDS,
    GENDERS,
    OCCLUDERS,
    REJECT_REASONS,
    Expression,
    FaceSpec,
    Identity,
    Person,
    Rendered,
    SampleConfig,
    SampleError,
)

__all__ = [
    "AGE_GROUPS",
    "AGE_STYLES",
    "BACKGROUNDS",
    "Expression",
    "FaceSpec",
    "GENDERS",
    "Identity",
    "LABEL_COLUMNS",
    "LESSON_STYLES",
    "OCCLUDERS",
    "Person",
    "PlannedImage",
    "REJECT_REASONS",
    "REPORT_BLENDSHAPES",
    "Rendered",
    "SampleConfig",
    "SampleError",
    "contact_sheet",
    "encode_jpeg",
    "expression_for",
    "generate_samples",
    "main",
    "paint",
    "quality_report",
    "random_identity",
    "random_person",
    "random_scene",
    "random_spec",
    "read_labels",
    "reject_spec",
    "render",
    "sample_plan",
]
