"""A label-free mid-sagittal selector: the spine mirrors itself about its mid-sagittal plane.

Slices at equal distances on either side of the true plane show the same anatomy in the same in-plane
orientation (pedicles beside pedicles, psoas beside psoas), so they resemble each other more than
other slices the same distance apart do. A candidate plane c (at a slice or between two) is scored by
how much more alike its mirrored pairs are than the series' typical pair at the same separation:

    excess(i, j)  = similarity(i, j) - mean similarity of the series' pairs |x_i - x_j| apart
    score(c)      = sum_pairs K(m_ij - c) w_ij excess(i, j) / (sum_pairs K(m_ij - c) w_ij + evidence_prior)

with m_ij = (x_i + x_j) / 2 the pair's own mirror plane, K a Gaussian of ``candidate_width`` slice
spacings (irregular spacing and gaps), w_ij = exp(-|x_i - x_j| / 2 / pair_decay_mm) (near pairs say
most: far lateral slices drift apart with posture and scoliosis) and ``evidence_prior`` a pseudo-weight
of zero excess, so a plane near the stack's end, scored by one or two lucky pairs, does not beat a plane
that many pairs agree on. Similarity is a patch-wise normalised correlation of intensity-normalised
thumbnails (no contrast, gain or bias field enters) of the central band of image columns only: the target is
the vertebral bodies' left-right centre, and the aorta, bowel and skin towards the front and back of the field
of view are not mirrored about it. Patches are weighted towards the pixels that change from slice
to slice (spine, paraspinal muscle) rather than air and bowel that look alike on every slice.

Only distances between slices enter, never their absolute positions nor the stack's centre, so any file
order, spacing and gaps work and a mid far from the centre is found. A slice on which no pair is centred
(the two ends of a stack) cannot be scored and is never chosen. Hyper-parameters were chosen on VB1 series
of the real lumbar set and the phantom only (benchmarks/label_free.py; VB2 is held out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class SymmetryParams:
    """How slices are compared and pairs weighed; defaults chosen on VB1 + phantom (benchmarks/label_free.py)."""

    band_fraction: float = 0.2
    """Only this central fraction of the image columns (anterior-posterior in a sagittal slice) is compared: the
    vertebral column lies there, while bowel, vessels and skin towards the edges are not mirrored about it."""
    thumbnail_size: int = 64
    """Slices are compared at this many pixels a side: the mirror anatomy, not noise or sub-mm misregistration."""
    patch_size: int = 8
    """Correlation is computed per patch of the thumbnail, so a bias field or coil shading does not dominate."""
    pair_decay_mm: float = 16.0
    """A pair's weight falls by e for every ``pair_decay_mm`` of distance from the plane to its slices."""
    candidate_width: float = 0.2
    """Gaussian width, in slice spacings, within which a pair's mirror plane counts for a candidate plane."""
    evidence_prior: float = 3.0
    """Pseudo-weight of zero excess: planes that few pairs score are pulled towards 'no evidence'."""
    temperature: float = 0.02
    """p(mid) = softmax(slice score / temperature); scores are correlation excesses (typically -0.1 .. 0.1)."""


@dataclass(frozen=True)
class MidPlaneEstimate:
    """One series' label-free choice; arrays follow the caller's slice order."""

    slice_scores: np.ndarray
    """Score of the plane through each slice; -inf where no mirrored pair is centred on the slice (stack ends)."""
    p_mid: np.ndarray
    """p(slice is the mid-sagittal slice): softmax of slice_scores / temperature (0 for unscorable slices)."""
    mid_index: int
    """Index (caller's order) of the chosen mid-sagittal slice: the best-scored slice."""
    mid_plane_mm: float
    """Sub-slice plane position (same axis as the positions given): a parabola through the chosen slice's
    score and the scores of the planes halfway to its neighbours, kept within those half-way planes."""


def thumbnails(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) pixels of any range -> (N, size, size) float64, each slice z-scored (contrast and gain drop out)."""
    resized = F.interpolate(
        torch.from_numpy(np.ascontiguousarray(images, np.float32))[:, None], size=(size, size), mode="area"
    )
    small = resized[:, 0].numpy().astype(np.float64)
    flat = small.reshape(len(small), -1)
    spread = flat.std(axis=1)
    centred = (small - flat.mean(axis=1)[:, None, None]) / np.where(spread > 0, spread, 1.0)[:, None, None]
    return centred


def central_band(images: np.ndarray, fraction: float) -> np.ndarray:
    """(N, H, W) -> (N, H, ~fraction * W): the middle columns, at least one."""
    width = images.shape[2]
    kept = max(1, round(fraction * width))
    start = (width - kept) // 2
    return images[:, :, start : start + kept]


def slice_similarity(small: np.ndarray, patch_size: int) -> np.ndarray:
    """(N, N) patch-wise normalised correlation of thumbnails, patches weighted by how much they vary across the
    series; NaN for a blank slice (nothing to compare)."""
    n, side = len(small), small.shape[1] // patch_size * patch_size
    grid = side // patch_size
    patches = small[:, :side, :side].reshape(n, grid, patch_size, grid, patch_size).transpose(0, 1, 3, 2, 4)
    patches = patches.reshape(n, grid * grid, patch_size * patch_size)
    patch_weight = small[:, :side, :side].std(axis=0).reshape(grid, patch_size, grid, patch_size).mean(axis=(1, 3))
    patch_weight = patch_weight.reshape(-1) / max(patch_weight.sum(), 1e-12)
    patches = patches - patches.mean(axis=2, keepdims=True)
    norm = np.linalg.norm(patches, axis=2, keepdims=True)
    patches = patches / np.where(norm > 1e-9, norm, 1.0)
    similarity = np.einsum("ipk,jpk,p->ij", patches, patches, patch_weight)
    blank = small.reshape(n, -1).std(axis=1) == 0
    similarity[blank, :] = np.nan
    similarity[:, blank] = np.nan
    return similarity


def slice_spacing_mm(positions_mm: np.ndarray) -> float:
    """The series' typical slice spacing: the median gap between neighbouring positions (1 mm for one slice)."""
    gaps = np.diff(np.sort(positions_mm))
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else 1.0


def plane_scores(
    planes_mm: np.ndarray, similarity: np.ndarray, positions_mm: np.ndarray, params: SymmetryParams
) -> np.ndarray:
    """score(c) of the module docstring for every candidate plane in ``planes_mm``; NaN where no pair is centred."""
    spacing = slice_spacing_mm(positions_mm)
    first, second = np.triu_indices(len(positions_mm), 1)
    pair_similarity = similarity[first, second]
    known = ~np.isnan(pair_similarity)
    first, second, pair_similarity = first[known], second[known], pair_similarity[known]
    separation = np.abs(positions_mm[second] - positions_mm[first])
    same_separation = np.abs(separation[:, None] - separation[None, :]) < 0.25 * spacing
    excess = pair_similarity - (same_separation @ pair_similarity) / same_separation.sum(axis=1)
    mirror_plane = (positions_mm[first] + positions_mm[second]) / 2
    pair_weight = np.exp(-separation / 2 / params.pair_decay_mm)
    offset = (mirror_plane[None, :] - np.asarray(planes_mm, np.float64)[:, None]) / (params.candidate_width * spacing)
    kernel = np.exp(-0.5 * offset**2) * pair_weight[None, :]
    centred = (np.abs(offset) <= 0.25 / params.candidate_width).any(axis=1)
    scores = (kernel @ excess) / (kernel.sum(axis=1) + params.evidence_prior)
    return np.where(centred, scores, np.nan)


def mirror_planes_mm(positions_mm: np.ndarray) -> np.ndarray:
    """Sorted slice positions and the planes halfway between neighbours, interleaved: the candidates of a series."""
    ordered = np.sort(positions_mm)
    planes = np.empty(2 * len(ordered) - 1)
    planes[0::2] = ordered
    planes[1::2] = (ordered[:-1] + ordered[1:]) / 2
    return planes


def vertex_offset(left: float, centre: float, right: float) -> float:
    """Where the parabola through (-1, left), (0, centre), (1, right) peaks, in [-1, 1] (0 when it has no peak)."""
    curvature = left - 2 * centre + right
    if not np.isfinite(curvature) or curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -1.0, 1.0))


def estimate_mid_plane(
    images: np.ndarray, positions_mm: np.ndarray, params: SymmetryParams | None = None
) -> MidPlaneEstimate:
    """The mid-sagittal slice and plane of one series from its slices (N, H, W) at ``positions_mm`` (N,), any order.

    Needs at least three slices (one with a neighbour on each side); positions need only be correct relative to
    each other.
    """
    params = params or SymmetryParams()
    positions_mm = np.asarray(positions_mm, np.float64)
    if len(positions_mm) < 3 or len(images) != len(positions_mm):
        raise ValueError(
            f"a mid-sagittal plane needs at least 3 slices with one position each; got {len(images)} slices "
            f"and {len(positions_mm)} positions"
        )
    band = central_band(np.asarray(images), params.band_fraction)
    similarity = slice_similarity(thumbnails(band, params.thumbnail_size), params.patch_size)
    order = np.argsort(positions_mm, kind="stable")
    planes = mirror_planes_mm(positions_mm)
    scores = plane_scores(planes, similarity, positions_mm, params)
    at_slices = scores[0::2]
    ranked = np.where(np.isnan(at_slices), -np.inf, at_slices)
    if np.isneginf(ranked).all():  # e.g. 3 slices with a gap on one side: no evidence, every slice alike
        ranked = np.zeros(len(order))
    best = int(np.argmax(ranked))
    left = scores[2 * best - 1] if best > 0 else np.nan
    right = scores[2 * best + 1] if best < len(order) - 1 else np.nan
    shift = vertex_offset(left, at_slices[best], right)
    half_gap = (planes[2 * best + 1] - planes[2 * best]) if shift > 0 else (planes[2 * best] - planes[2 * best - 1])
    mid_plane_mm = float(planes[2 * best] + shift * half_gap) if shift else float(planes[2 * best])
    slice_scores = np.empty(len(order))
    slice_scores[order] = ranked
    p_mid = np.exp((slice_scores - ranked[best]) / params.temperature)
    return MidPlaneEstimate(slice_scores, p_mid / p_mid.sum(), int(order[best]), mid_plane_mm)
