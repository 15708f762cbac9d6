"""Constructed sagittal stacks with a known mirror plane, for the label-free estimate and what reads it."""

from __future__ import annotations

import numpy as np


def smooth_field(rng: np.random.Generator, size: int = 96, cell: int = 4) -> np.ndarray:
    """A blobby image: coarse noise upsampled, like anatomy rather than pixel noise."""
    coarse = rng.normal(size=(size // cell, size // cell))
    return np.kron(coarse, np.ones((cell, cell)))


def mirrored_stack(positions_mm: np.ndarray, plane_mm: float, seed: int = 0) -> np.ndarray:
    """Slices whose anatomy depends only on the unsigned distance |x - plane| (a left-right symmetric body), each
    with its own noise and a gain that drifts across the stack (coil shading)."""
    rng = np.random.default_rng(seed)
    bases = [smooth_field(rng) for _ in range(6)]
    wavelengths_mm = rng.uniform(12, 40, size=len(bases))
    phases = rng.uniform(0, 2 * np.pi, size=len(bases))
    slices = []
    for number, position in enumerate(positions_mm):
        distance = abs(position - plane_mm)
        anatomy = sum(
            np.cos(2 * np.pi * distance / wavelength + phase) * base
            for base, wavelength, phase in zip(bases, wavelengths_mm, phases, strict=True)
        )
        gain = 100 * (1 + 0.05 * number)
        slices.append(gain * (anatomy + 0.3 * rng.normal(size=anatomy.shape)) + 500)
    return np.stack(slices).astype(np.float32)
