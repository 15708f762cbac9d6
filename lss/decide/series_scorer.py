"""A learned series-level scorer: one logit per slice of a sagittal series, softmax over the series' slices.

Why: the ridge selector (lss/model/series_selector.py) regresses each slice's distance to the mid plane on its
own and then fits a distance profile; its loss is not the one we care about, and its confidence says nothing on
a new site. This scorer is trained on what we want: which slice of the series is the mid-sagittal one.

Contract (inputs and outputs, all plain arrays, nothing stateful but the fitted ``SeriesScorer``):

- A series is ``embeddings`` (n, D): the frozen backbone's pooled features of its n slices (any order), and
  ``positions_mm`` (n,): each slice's position along the slice normal. Only differences of positions are used
  (their order), never their absolute values, so SliceLocation conventions do not matter.
- ``slice_logits(scorer, embeddings, positions_mm)`` -> (n,) logits in the given slice order;
  softmax over them is p(slice is the mid-sagittal one). ``mid_plane_mm(logits, positions_mm)`` -> the
  plane's sub-slice position (mm), the softmax-weighted position of the best slice and its two neighbours.
- ``fit_series_scorer(series, params)`` learns from ``LabelledSeries`` (embeddings, positions, index of the
  labelled mid slice, a weight per series, optionally a label-free score per slice). Train on the whole stacks and
  on random sub-stacks of them (``sub_stack_bounds``): the stacks' extent is otherwise a cue that holds only for
  the training set's stacks (it made the scorer pick the wrong end of off-centre stacks of an unseen site).
- ``log_p_with_prior(logits, p_mid, weight)`` mixes a label-free p(mid) (lss.decide.symmetry) into the choice.

Per slice the scorer reads z_i: the embedding square-rooted (pooled activations are non-negative and
heavy-tailed), minus its series' median (what a whole series shares, scanner and patient, says nothing about
where a slice lies), projected onto the training slices' principal components; with ``neighbours`` > 0 also
(z_{i-k} + z_{i+k})/2 - z_i and |z_{i+k} - z_{i-k}| for k = 1..``neighbours`` (ends repeated). A learned linear
map gives each slice one term per distance bin (|x_i - x_c| in ``bin_mm`` steps, the last bin open), and

    logit(c) = sum_b pool_{i: bin(|x_i - x_c|) = b} term_i[b]

with pool a sum (the log-likelihood of the whole series if c were its mid slice; today's ridge is the special case
of a Gaussian term around one predicted distance) or a mean (``pooling``: blind to how many slices lie at each
distance, i.e. to where c sits in the stack). Only |distances| enter, so a reversed stack gets the same pick by
construction. Optionally a label-free score per slice (``LabelledSeries.label_free``, e.g. lss.decide.symmetry's
``slice_scores`` of that very stack), standardised within the series, is one more input. The loss is the cross-entropy
of softmax(logits) against soft targets exp(-|x_i - x_mid| / ``target_scale_mm``), each series weighted by its
``weight``, plus ``l2`` times the squared weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch


@dataclass(frozen=True)
class LabelledSeries:
    """One training series: embeddings (n, D), positions (n,) mm, the index of its mid slice, its loss weight, and
    (when the scorer reads one) a label-free score per slice (e.g. lss.decide.symmetry's slice_scores)."""

    embeddings: np.ndarray
    positions_mm: np.ndarray
    mid: int
    weight: float = 1.0
    label_free: np.ndarray | None = None


@dataclass(frozen=True)
class ScorerParams:
    """Chosen by patient cross-validation over both sources of the real T2 set pooled (benchmarks/series_cv.py
    --part a --splits "all sources", results/series_cv.md); how it is trained (sub-stacks, symmetry) is the caller's:
    conf/selector/learned.yaml."""

    components: int = 64
    neighbours: int = 0
    l2: float = 3.0
    target_scale_mm: float = 2.0
    bin_mm: float = 4.0
    bins: int = 7
    pooling: Literal["sum", "mean"] = "sum"
    """How a candidate's slice terms in one distance bin combine: their sum, or their mean (blind to how many
    slices the stack holds at that distance, i.e. to its extent)."""


@dataclass(frozen=True)
class SeriesScorer:
    """A fitted scorer: the projection of the embeddings and the linear weights over the slice features."""

    params: ScorerParams
    feature_mean: np.ndarray
    projection: np.ndarray
    weights: np.ndarray
    uses_label_free: bool


def series_centred(embeddings: np.ndarray) -> np.ndarray:
    """Square-rooted embeddings minus their series' median: what distinguishes the slices of one series."""
    rooted = np.sqrt(np.clip(np.asarray(embeddings, np.float64), 0.0, None))
    return rooted - np.median(rooted, axis=0)


def position_order(positions_mm: np.ndarray) -> np.ndarray:
    return np.argsort(np.asarray(positions_mm, np.float64), kind="stable")


def neighbour_features(projected: np.ndarray, positions_mm: np.ndarray, neighbours: int) -> np.ndarray:
    """(n, d * (1 + 2 * neighbours)) reversal-invariant features per slice, rows in the given slice order."""
    order = position_order(positions_mm)
    ordered = projected[order]
    count = len(ordered)
    parts = [ordered]
    for step in range(1, neighbours + 1):
        before = ordered[np.clip(np.arange(count) - step, 0, count - 1)]
        after = ordered[np.clip(np.arange(count) + step, 0, count - 1)]
        parts += [(before + after) / 2 - ordered, np.abs(after - before)]
    features = np.empty((count, projected.shape[1] * (1 + 2 * neighbours)))
    features[order] = np.concatenate(parts, axis=1)
    return features


def finite_or_lowest(score: np.ndarray) -> np.ndarray:
    """-inf (slices a label-free score cannot judge, e.g. the stack's ends) becomes the series' lowest finite score."""
    score = np.asarray(score, np.float64)
    finite = np.isfinite(score)
    return np.where(finite, score, score[finite].min() if finite.any() else 0.0)


def standardised_within_series(score: np.ndarray) -> np.ndarray:
    return (score - score.mean()) / (score.std() + 1e-6)


def slice_features(
    projection: tuple[np.ndarray, np.ndarray],
    embeddings: np.ndarray,
    positions_mm: np.ndarray,
    neighbours: int,
    label_free: np.ndarray | None,
) -> np.ndarray:
    """The scorer's input per slice: neighbour features of the projected embeddings (+ the label-free score);
    ``projection`` is (mean, components) of ``principal_projection``."""
    feature_mean, components = projection
    projected = (series_centred(embeddings) - feature_mean) @ components
    features = neighbour_features(projected, positions_mm, neighbours)
    if label_free is None:
        return features
    extra = standardised_within_series(finite_or_lowest(label_free))
    return np.concatenate([features, extra[:, None]], axis=1)


def principal_projection(centred: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, D x d projection) onto the top principal components, each scaled to unit variance."""
    mean = centred.mean(axis=0)
    _, singular, right = np.linalg.svd(centred - mean, full_matrices=False)
    kept = min(components, len(singular))
    scale = singular[:kept] / np.sqrt(max(len(centred) - 1, 1)) + 1e-9
    return mean, right[:kept].T / scale


def soft_targets(positions_mm: np.ndarray, mid: int, scale_mm: float) -> np.ndarray:
    """exp(-|x_i - x_mid| / scale) over the series, summing to one."""
    weights = np.exp(-np.abs(positions_mm - positions_mm[mid]) / scale_mm)
    return weights / weights.sum()


def distance_bins(positions_mm: np.ndarray, params: ScorerParams) -> np.ndarray:
    """(n candidates, n slices) one-hot (last axis: bin) of |x_i - x_c| in ``bin_mm`` steps, the last bin open."""
    distance = np.abs(positions_mm[None, :] - positions_mm[:, None])
    bins = np.minimum(np.rint(distance / params.bin_mm), params.bins - 1).astype(np.int64)
    return np.eye(params.bins)[bins]


def candidate_logits(slice_terms: torch.Tensor, bins: torch.Tensor, pooling: str) -> torch.Tensor:
    """score(c) = sum_b pool_{i: bin(|x_i - x_c|) = b} slice_terms[i, b], pool a sum or a mean over the bin's slices:
    (..., n slices, bins), (..., n, n, bins) -> (..., n)."""
    per_bin = torch.einsum("...cib,...ib->...cb", bins, slice_terms)
    if pooling == "mean":
        per_bin = per_bin / bins.sum(dim=-2).clamp(min=1.0)
    return per_bin.sum(dim=-1)


def fit_series_scorer(series: Sequence[LabelledSeries], params: ScorerParams) -> SeriesScorer:
    """Fit the projection on the training slices and the weights by L-BFGS on the soft-target cross-entropy."""
    projection = principal_projection(
        np.concatenate([series_centred(item.embeddings) for item in series]), params.components
    )
    features = [
        slice_features(projection, item.embeddings, item.positions_mm, params.neighbours, item.label_free)
        for item in series
    ]
    uses_label_free = {item.label_free is not None for item in series}
    if len(uses_label_free) != 1:
        raise ValueError("give every training series a label_free score, or none")
    longest, width = max(len(part) for part in features), features[0].shape[1]
    inputs = torch.zeros(len(series), longest, width, dtype=torch.float64)
    bins = torch.zeros(len(series), longest, longest, params.bins, dtype=torch.float64)
    targets = torch.zeros(len(series), longest, dtype=torch.float64)
    present = torch.zeros(len(series), longest, dtype=torch.bool)
    for number, (item, part) in enumerate(zip(series, features)):
        count = len(part)
        inputs[number, :count] = torch.from_numpy(part)
        bins[number, :count, :count] = torch.from_numpy(distance_bins(item.positions_mm, params))
        targets[number, :count] = torch.from_numpy(soft_targets(item.positions_mm, item.mid, params.target_scale_mm))
        present[number, :count] = True
    series_weights = torch.tensor([item.weight for item in series], dtype=torch.float64)
    series_weights = series_weights / series_weights.sum()
    weights = torch.zeros(width, params.bins, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights], max_iter=100, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        logits = candidate_logits(inputs @ weights, bins, params.pooling).masked_fill(~present, -torch.inf)
        log_p = torch.log_softmax(logits, dim=1).masked_fill(~present, 0.0)
        value = -(series_weights * (targets * log_p).sum(dim=1)).sum() + params.l2 * weights.pow(2).sum()
        value.backward()
        return value

    optimiser.step(loss)
    return SeriesScorer(params, projection[0], projection[1], weights.detach().numpy(), uses_label_free.pop())


def slice_logits(
    scorer: SeriesScorer, embeddings: np.ndarray, positions_mm: np.ndarray, label_free: np.ndarray | None = None
) -> np.ndarray:
    """(n,) logits of one series in the given slice order (with a ``label_free`` score exactly when fitted with one)."""
    if scorer.uses_label_free != (label_free is not None):
        raise ValueError("pass label_free exactly when the scorer was fitted with it")
    features = slice_features(
        (scorer.feature_mean, scorer.projection), embeddings, positions_mm, scorer.params.neighbours, label_free
    )
    bins = torch.from_numpy(distance_bins(np.asarray(positions_mm, np.float64), scorer.params))
    return candidate_logits(torch.from_numpy(features @ scorer.weights), bins, scorer.params.pooling).numpy()


def feature_width(params: ScorerParams, uses_label_free: bool) -> int:
    """Inputs per slice of a scorer with all ``params.components`` projected dimensions (``slice_features``)."""
    return params.components * (1 + 2 * params.neighbours) + int(uses_label_free)


def with_all_components(scorer: SeriesScorer) -> SeriesScorer:
    """The same scorer with exactly ``params.components`` projected dimensions, the missing ones (fewer training slices
    than components) zero columns with zero weights: fixed shapes to store, e.g. in a checkpoint's buffers."""
    kept, wanted = scorer.projection.shape[1], scorer.params.components
    blocks = 1 + 2 * scorer.params.neighbours
    projection = np.zeros((len(scorer.feature_mean), wanted))
    projection[:, :kept] = scorer.projection
    per_block = np.zeros((blocks, wanted, scorer.params.bins))
    per_block[:, :kept] = scorer.weights[: blocks * kept].reshape(blocks, kept, scorer.params.bins)
    weights = np.concatenate([per_block.reshape(blocks * wanted, scorer.params.bins), scorer.weights[blocks * kept :]])
    return replace(scorer, projection=projection, weights=weights)


LOWEST_LOG_P = -50.0


def sub_stack_bounds(
    count: int, mid: int, max_dropped: int, crops: int, rng: np.random.Generator, margin: int = 2
) -> list[tuple[int, int]]:
    """The whole stack and ``crops`` random sub-stacks of a series of ``count`` slices in position order, as (slices
    dropped from the low end, from the high end), each 0..``max_dropped`` drawn independently and limited so that
    ``margin`` slices stay on either side of the ``mid`` slice: training on them hides the stacks' extent, which
    otherwise says where the mid lies in the training set's stacks and nowhere else."""
    low_limit = max(min(max_dropped, mid - margin), 0)
    high_limit = max(min(max_dropped, count - 1 - mid - margin), 0)
    drawn = zip(rng.integers(0, low_limit + 1, crops), rng.integers(0, high_limit + 1, crops))
    return [(0, 0), *((int(low), int(high)) for low, high in drawn)]


def log_p_with_prior(logits: np.ndarray, prior_p_mid: np.ndarray | None, weight: float) -> np.ndarray:
    """log softmax(logits) + ``weight`` log p_prior: the learned scorer's choice with a label-free p(mid) (e.g.
    lss.decide.symmetry's p_mid) mixed in; a slice the prior rules out (p 0) gets log p ``LOWEST_LOG_P``."""
    logits = np.asarray(logits, np.float64)
    log_p = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
    if prior_p_mid is None or weight == 0:
        return log_p
    return log_p + weight * np.log(np.clip(np.asarray(prior_p_mid, np.float64), np.exp(LOWEST_LOG_P), None))


def mid_plane_mm(logits: np.ndarray, positions_mm: np.ndarray) -> float:
    """The plane's sub-slice position: softmax-weighted position of the best slice and its neighbours by position."""
    order = position_order(positions_mm)
    ordered_logits, ordered_positions = (
        np.asarray(logits, np.float64)[order],
        np.asarray(positions_mm, np.float64)[order],
    )
    best = int(np.argmax(ordered_logits))
    window = slice(max(best - 1, 0), best + 2)
    local = np.exp(ordered_logits[window] - ordered_logits[best])
    return float((local * ordered_positions[window]).sum() / local.sum())
