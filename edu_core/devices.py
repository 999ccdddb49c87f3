"""Where training and prediction run (CUDA, Apple MPS or the CPU) and how runs are seeded."""

from __future__ import annotations

import torch

from edu_core.errors import EduError


def choose_device(preference: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU (or exactly ``preference`` if it is available)."""
    pref = preference.lower()
    if pref not in ("auto", "cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {preference!r}; allowed: auto, cpu, cuda, mps")
    if pref in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if pref in ("auto", "mps") and mps is not None and mps.is_available():
        return torch.device("mps")
    if pref not in ("auto", "cpu"):
        raise EduError("device_unavailable", f"{preference} is not available on this machine")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    """A short human name of the device for the GPU/CPU badge."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU"


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (augmentations, dropout) and return a private generator."""
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
