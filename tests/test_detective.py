"""The label detective on the committed sample faces (issue 15.3).

A big smile filed under sadness is a mistake any child sees. The detective used to rank the
student's own model's predictions on the photos it trained on; that model had learnt the wrong
labels (100 % training accuracy), so the page said "nothing suspicious" for both model kinds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edu_core import detective, metrics
from edu_core import experiments as ex
from edu_core.embeddings import EmbeddingCache
from edu_core.labels import LESSON_CLASSES
from edu_core.predict import predict_proba
from edu_core.train import train
from edu_core.trainconfig import TrainConfig

pytestmark = pytest.mark.slow  # trains both model kinds on the samples
SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
PER_CLASS = 20  # the lesson's "20 per expression" sample set


def _smile(example) -> float:
    b = example.face.blendshapes
    return b.get("mouthSmileLeft", 0.0) + b.get("mouthSmileRight", 0.0)


@pytest.fixture(scope="module")
def planted():
    """20 training photos per class with the three biggest smiles moved from joy into sadness."""
    data = ex.load_folder(SAMPLES)
    chosen = [e for c in LESSON_CLASSES for e in [x for x in data.train if x.label == c][:PER_CLASS]]
    wrong = {e.id for e in sorted((e for e in chosen if e.label == "joy"), key=_smile, reverse=True)[:3]}
    labels = ["sadness" if e.id in wrong else e.label for e in chosen]
    return [e.face for e in chosen], labels, [e.id for e in chosen], wrong


@pytest.mark.parametrize("kind", ["pieces"])
def test_detective_finds_planted_big_smiles_in_sadness(planted, kind):
    # Only the data-pieces model: at 20 per class the CNN head's held-out guesses put few planted
    # smiles in the top five, on real faces of new people too (2 of 9 against the pieces model's
    # 4 of 9), so the page's detective judges with the pieces model whatever the student trained.
    faces, labels, ids, wrong = planted
    cache = EmbeddingCache()
    model = train(kind, faces, labels, TrainConfig(mode="head"), class_names=LESSON_CLASSES,
                  embedding_cache=cache).bundle  # fmt: skip
    # what the page used to do: the model's own view of its training photos hides the mistakes
    own = metrics.rank_by_loss(predict_proba(model, faces, embedding_cache=cache), labels, ids,
                                labels=LESSON_CLASSES, top=5)  # fmt: skip
    suspects = detective.mislabel_suspects(
        kind, faces, labels, ids, class_names=LESSON_CLASSES, model_config=model.config, top=5,
        embedding_cache=cache,
    )  # fmt: skip
    found = {s["id"] for s in suspects} & wrong
    assert len(found) >= 2, (suspects, [(s["id"], s["guess"]) for s in own])
    assert all(s["guess"] != "sadness" for s in suspects if s["id"] in wrong)
