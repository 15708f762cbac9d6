"""Which series-level scorer and review flag to build: patient cross-validation and leave-one-source-out, on
cached frozen EfficientNet-Lite0 embeddings of the real lumbar set (benchmarks/series_embeddings.py).

(a) Validation: 5-fold cross-validation by patient over all series of the set (the sources a model is trained
    on), scored on the held-out T2 series, 2 assignments of patients to folds, centred and off-centre stacks.
    Every hyper-parameter, the variant kept and the review flag's threshold are chosen here.
(b) Leave one source out (VB2: 17 T2 series of one Siemens site; VB1: 11 series of 7 hospitals): trained on the
    other source, tested on the left-out one zero-shot and with k of its series labelled and added to training
    (10 seeds choose which k; the rest are tested). Reported, never tuned on.

    PYTHONPATH=. .venv/bin/python benchmarks/series_cv.py            # both parts: results/series_cv.md
    PYTHONPATH=. .venv/bin/python benchmarks/series_cv.py --part a   # the validation grid only (printed)

The off-centre stacks are benchmarks/real_lumbar.py's (3-4 slices dropped from one end of every series).
"""

from __future__ import annotations

import argparse
import datetime
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from real_lumbar import off_centre
from series_embeddings import embedded_slices

from lss.decide.review_flag import candidate_margin
from lss.decide.series_scorer import (
    LabelledSeries,
    ScorerParams,
    embedding_symmetry,
    fit_series_scorer,
    mid_plane_mm,
    series_centred,
    slice_logits,
)
from lss.manifest import T2, centre_index
from lss.model.series_selector import candidate_scores
from lss.text import markdown_table
from support import REPO

RESULTS = REPO / "benchmarks" / "results" / "series_cv.md"
STACKS = ("centred", "off-centre")
FOLDS, FOLD_SEEDS, DRAW_SEEDS = 5, (0, 1), range(10)
LABELLED_COUNTS = {"VB2": (0, 3, 5, 10), "VB1": (0, 3, 5)}
"""k labelled series of the left-out source added to training: at least 6 of its series are left to test."""
FLAG_RATE = 0.3
"""The review flag's threshold flags this share of the validation series (a)."""


@dataclass(frozen=True)
class Series:
    uid: str
    patient: str
    source: str
    weighting: str
    embeddings: np.ndarray
    positions_mm: np.ndarray
    mid: int
    """Index of the labelled mid slice in position order (positions are sorted)."""


def stacks(kind: str) -> list[Series]:
    """Every labelled series of the set, slices in position order, centred or off-centre."""
    embedded = embedded_slices()
    table = embedded.slices.assign(embedding_row=np.arange(len(embedded.slices)))
    if kind == "off-centre":
        table = off_centre(table)
    result = []
    for uid, part in table.sort_values(["series_uid", "slice_location_mm"]).groupby("series_uid", sort=True):
        first = part.iloc[0]
        result.append(
            Series(
                str(uid),
                str(first["patient"]),
                str(first["source"]),
                str(first["weighting"]),
                embedded.embeddings[part["embedding_row"].to_numpy()],
                part["slice_location_mm"].to_numpy(float),
                int(np.flatnonzero(part["is_mid_sagittal"].to_numpy(bool))[0]),
            )
        )
    return result


# -- selectors: fitted on training series, they give one score per slice of a series ---------------------------
Scores = Callable[[Series], np.ndarray]
Selector = Callable[[Sequence[Series], Sequence[float]], Scores]


def centre_rule(train: Sequence[Series], weights: Sequence[float]) -> Scores:
    return lambda series: -np.abs(np.arange(len(series.positions_mm)) - centre_index(len(series.positions_mm)))


def symmetry_rule(train: Sequence[Series], weights: Sequence[float]) -> Scores:
    """Label-free: the embedding-symmetry score alone (no training)."""
    return lambda series: embedding_symmetry(series.embeddings, series.positions_mm)


def ridge_distance(alpha: float = 3000.0, cap_mm: float = 32.0) -> Selector:
    """Today's selector=series (lss/model/series_selector.py: sqrt, series median removed, standardised ridge of
    the capped distance, best-explaining candidate), solved here in numpy from the cached embeddings."""

    def fit(train: Sequence[Series], weights: Sequence[float]) -> Scores:
        features = np.concatenate([series_centred(item.embeddings) for item in train])
        targets = np.concatenate(
            [np.minimum(np.abs(item.positions_mm - item.positions_mm[item.mid]), cap_mm) for item in train]
        )
        sample_weights = np.concatenate(
            [np.full(len(item.positions_mm), weight) for item, weight in zip(train, weights)]
        )
        mean = np.average(features, axis=0, weights=sample_weights)
        scale = np.sqrt(np.average((features - mean) ** 2, axis=0, weights=sample_weights)) + 1e-6
        standardised = (features - mean) / scale
        target_mean = np.average(targets, weights=sample_weights)
        weighted = standardised * sample_weights[:, None]
        gram = weighted.T @ standardised + alpha * np.eye(features.shape[1])
        coefficients = np.linalg.solve(gram, weighted.T @ (targets - target_mean))

        def scores(series: Series) -> np.ndarray:
            distances = ((series_centred(series.embeddings) - mean) / scale) @ coefficients + target_mean
            positions = torch.from_numpy(series.positions_mm)
            return candidate_scores(torch.from_numpy(distances), positions, cap_mm).numpy()

        return scores

    return fit


def learned(params: ScorerParams, with_symmetry: bool) -> Selector:
    """lss.decide.series_scorer, optionally with the embedding-symmetry score as an input."""
    label_free = embedding_symmetry if with_symmetry else None

    def fit(train: Sequence[Series], weights: Sequence[float]) -> Scores:
        labelled = [
            LabelledSeries(item.embeddings, item.positions_mm, item.mid, weight) for item, weight in zip(train, weights)
        ]
        scorer = fit_series_scorer(labelled, params, label_free)
        return lambda series: slice_logits(scorer, series.embeddings, series.positions_mm, label_free)

    return fit


@dataclass(frozen=True)
class Variant:
    name: str
    selector: Selector
    train_weightings: tuple[str, ...] | None
    """Weightings the selector trains on (None: all of T1, T2, STIR)."""


def outcome(series: Series, scores: np.ndarray, symmetry_pick: int, distance_from_training: float) -> dict[str, float]:
    """One tested series: exact hit, within one slice, plane error (mm), and the review flag's inputs."""
    pick = int(np.argmax(scores))
    return {
        "hit": float(pick == series.mid),
        "hit_1": float(abs(pick - series.mid) <= 1),
        "error_mm": abs(mid_plane_mm(scores, series.positions_mm) - series.positions_mm[series.mid]),
        "margin": candidate_margin(scores),
        "disagree": float(abs(pick - symmetry_pick)),
        "distance": distance_from_training,
    }


def series_median(series: Series) -> np.ndarray:
    return np.median(np.sqrt(np.clip(series.embeddings, 0, None)), axis=0)


def distances_from_training(train: Sequence[Series], tested: Sequence[Series]) -> np.ndarray:
    """Each tested series' median embedding: distance to the nearest training series' median (standardised)."""
    reference = np.stack([series_median(item) for item in train])
    mean, scale = reference.mean(axis=0), reference.std(axis=0) + 1e-6
    reference = (reference - mean) / scale
    return np.array(
        [np.sqrt(((reference - (series_median(item) - mean) / scale) ** 2).mean(axis=1)).min() for item in tested]
    )


def evaluate(
    variant: Variant, train: Sequence[Series], weights: Sequence[float], tested: Sequence[Series]
) -> list[dict[str, float | str]]:
    kept = [
        (item, weight)
        for item, weight in zip(train, weights)
        if variant.train_weightings is None or item.weighting in variant.train_weightings
    ]
    scores = variant.selector([item for item, _ in kept], [weight for _, weight in kept])
    distances = distances_from_training([item for item, _ in kept], tested)
    return [
        outcome(item, scores(item), int(np.argmax(embedding_symmetry(item.embeddings, item.positions_mm))), distance)
        | {"series": item.uid}
        for item, distance in zip(tested, distances)
    ]


def patient_folds(series: Sequence[Series], folds: int, seed: int) -> list[np.ndarray]:
    patients = sorted({item.patient for item in series})
    fold_of = dict(zip(np.random.default_rng(seed).permutation(patients), np.arange(len(patients)) % folds))
    assignment = np.array([fold_of[item.patient] for item in series])
    return [np.flatnonzero(assignment == fold) for fold in range(folds)]


def cross_validated(variant: Variant, series: Sequence[Series]) -> pd.DataFrame:
    """(a): out-of-fold outcomes of the T2 series, per fold assignment."""
    rows = []
    for seed in FOLD_SEEDS:
        for held in patient_folds(series, FOLDS, seed):
            held_set = set(held.tolist())
            train = [item for index, item in enumerate(series) if index not in held_set]
            tested = [series[index] for index in held if series[index].weighting == T2]
            if tested:
                rows += [row | {"fold_seed": seed} for row in evaluate(variant, train, [1.0] * len(train), tested)]
    return pd.DataFrame(rows)


def left_out(
    variant: Variant, series: Sequence[Series], source: str, labelled: int, seed: int, new_site_weight: float
) -> pd.DataFrame:
    """(b): trained without ``source`` (plus ``labelled`` of its series, drawn by ``seed``), tested on its others."""
    own = [item for item in series if item.source == source]
    drawn = set(np.random.default_rng(seed).permutation(len(own))[:labelled].tolist())
    added = [item for index, item in enumerate(own) if index in drawn]
    train = [item for item in series if item.source != source] + added
    weights = [1.0] * (len(train) - len(added)) + [new_site_weight] * len(added)
    tested = [item for index, item in enumerate(own) if index not in drawn]
    return pd.DataFrame(evaluate(variant, train, weights, tested))


def flag_rates(outcomes: pd.DataFrame, thresholds: dict[str, float]) -> dict[str, float]:
    """Share of series flagged, and of exact-mid misses caught, by each flag (score above its threshold)."""
    misses = outcomes["hit"] == 0
    rates = {}
    for name, threshold in thresholds.items():
        flagged = flag_score(outcomes, name) > threshold
        rates[f"{name} flagged"] = float(flagged.mean())
        rates[f"{name} caught"] = float(flagged[misses].mean()) if misses.any() else float("nan")
    return rates


FLAGS = ("low margin", "far from training", "disagrees with symmetry")


def flag_score(outcomes: pd.DataFrame, name: str) -> pd.Series:
    """Higher = more doubtful."""
    if name == "low margin":
        return -outcomes["margin"]
    if name == "far from training":
        return outcomes["distance"]
    if name == "disagrees with symmetry":
        return outcomes["disagree"]
    raise KeyError(name)


def validation_thresholds(outcomes: pd.DataFrame) -> dict[str, float]:
    """Each flag's threshold: its (1 - FLAG_RATE) quantile on the validation series (a)."""
    return {name: float(np.quantile(flag_score(outcomes, name), 1 - FLAG_RATE)) for name in FLAGS}


def summary(outcomes: pd.DataFrame) -> dict[str, float]:
    return {
        "hit": outcomes["hit"].mean(),
        "hit_1": outcomes["hit_1"].mean(),
        "error_mm": outcomes["error_mm"].mean(),
        "series": len(outcomes),
    }


def grid() -> list[Variant]:
    """Today's ridge, the label-free rules, and the learned scorer varied one axis at a time from its default."""
    base = ScorerParams()
    learned_variants = [Variant(f"learned {base}", learned(base, False), (T2,))]
    for axis, values in (
        ("components", (32, 128)),
        ("l2", (0.3, 3.0, 10.0)),
        ("neighbours", (1,)),
    ):
        for value in values:
            params = replace(base, **{axis: value})  # type: ignore[arg-type]
            learned_variants.append(Variant(f"learned {params}", learned(params, False), (T2,)))
    return [
        Variant("centre rule", centre_rule, None),
        Variant("embedding symmetry (label-free)", symmetry_rule, None),
        Variant("ridge distance (today's selector=series), T2", ridge_distance(), (T2,)),
        Variant("ridge distance, all weightings", ridge_distance(), None),
        *learned_variants,
        Variant(f"learned {base}, all weightings", learned(base, False), None),
        Variant(f"learned {base} + embedding symmetry", learned(base, True), (T2,)),
    ]


def validation_table(
    variants: Sequence[Variant], series_by_stack: dict[str, list[Series]]
) -> tuple[list[list[str]], dict[str, dict[str, pd.DataFrame]]]:
    """(a) for every variant: out-of-fold outcomes per stack kind, and one table row each."""
    rows, outcomes = [], {}
    for variant in variants:
        started = time.monotonic()
        outcomes[variant.name] = {kind: cross_validated(variant, series_by_stack[kind]) for kind in STACKS}
        cells = [variant.name]
        for kind in STACKS:
            result = summary(outcomes[variant.name][kind])
            cells += [f"{result['hit']:.2f}", f"{result['hit_1']:.2f}", f"{result['error_mm']:.2f}"]
        rows.append(cells)
        print(" | ".join(cells), f"({time.monotonic() - started:.0f} s)", flush=True)
    return rows, outcomes


def validation_score(outcomes: dict[str, pd.DataFrame]) -> tuple[float, float, float]:
    """What (a) ranks variants by: exact hit over both stack kinds, then within one slice, then minus plane error."""
    both = pd.concat(outcomes.values())
    return (both["hit"].mean(), both["hit_1"].mean(), -both["error_mm"].mean())


def left_out_table(
    variants: Sequence[tuple[Variant, float]],
    series_by_stack: dict[str, list[Series]],
    thresholds: dict[str, dict[str, float]],
    seeds: int,
) -> list[list[str]]:
    """(b) rows: variant (with the new site's weight), left-out source, stack kind, k; pooled over draws."""
    rows = []
    for (variant, weight), source, kind in (
        (pair, source, kind) for pair in variants for source in LABELLED_COUNTS for kind in STACKS
    ):
        for labelled in LABELLED_COUNTS[source]:
            if labelled == 0 and weight != 1.0:
                continue
            draws = [0] if labelled == 0 else range(seeds)
            outcomes = pd.concat(
                [left_out(variant, series_by_stack[kind], source, labelled, seed, weight) for seed in draws]
            )
            result = summary(outcomes)
            rates = flag_rates(outcomes, thresholds[variant.name])
            name = variant.name + (f", new-site weight {weight:g}" if weight != 1.0 else "")
            rows.append(
                [name, source, kind, str(labelled), str(len(draws)), str(result["series"])]
                + [f"{result[key]:.2f}" for key in ("hit", "hit_1", "error_mm")]
                + [
                    f"{rates[f'{flag} caught']:.2f} / {rates[f'{flag} flagged']:.2f}"
                    for flag in thresholds[variant.name]
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("a", "ab"), default="ab")
    parser.add_argument(
        "--only", default="", help="a regular expression: validate only the variants it finds in their name"
    )
    parser.add_argument("--seeds", type=int, default=len(DRAW_SEEDS), help="draws of the k labelled series")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.monotonic()
    series_by_stack = {kind: stacks(kind) for kind in STACKS}
    variants = [variant for variant in grid() if re.search(args.only, variant.name)]
    rows, outcomes = validation_table(variants, series_by_stack)
    header = ["variant", *(f"{kind} {metric}" for kind in STACKS for metric in ("hit", "±1", "err mm"))]
    lines = [
        "# Series scorers and the review flag: validation and leave-one-source-out (benchmarks/series_cv.py)",
        "",
        f"{datetime.date.today()}, `PYTHONPATH=. .venv/bin/python benchmarks/series_cv.py --seeds {args.seeds}`. "
        "Frozen ImageNet EfficientNet-Lite0 embeddings, real lumbar set.",
        "",
        f"## (a) Validation: {FOLDS}-fold patient CV over all sources, held-out T2 series, "
        f"{len(FOLD_SEEDS)} fold assignments pooled",
        "",
        markdown_table(header, rows),
        "",
    ]
    print("\n".join(lines), flush=True)
    if args.part == "a":
        return
    by_name = {variant.name: variant for variant in variants}
    trained = [name for name in outcomes if name.startswith(("learned", "ridge"))]
    best_learned = max(
        (name for name in trained if name.startswith("learned")), key=lambda name: validation_score(outcomes[name])
    )
    reported = [
        "centre rule",
        "embedding symmetry (label-free)",
        "ridge distance (today's selector=series), T2",
        best_learned,
    ]
    thresholds = {name: validation_thresholds(pd.concat(outcomes[name].values())) for name in reported}
    pairs = [(by_name[name], 1.0) for name in reported] + [(by_name[best_learned], 3.0)]
    flag_names = [f"{flag}: caught / flagged" for flag in FLAGS]
    table = left_out_table(pairs, series_by_stack, thresholds, args.seeds)
    lines += [
        f"Kept learned variant (best exact hit on (a)): {best_learned}.",
        "",
        f"## (b) Leave one source out: zero-shot and with k labelled series of it ({args.seeds} draws)",
        "",
        f"Flag thresholds: each flag's {1 - FLAG_RATE:.0%} quantile on (a) for that variant.",
        "",
        markdown_table(
            ["variant", "left out", "stacks", "k", "draws", "series tested", "hit", "±1", "err mm", *flag_names], table
        ),
        "",
        f"Wall time {(time.monotonic() - started) / 60:.0f} min on 2 shared CPU cores (embeddings cached).",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
