"""Which series-level scorer and review flag to build: patient cross-validation within sources and
leave-one-source-out, on cached frozen EfficientNet-Lite0 embeddings (benchmarks/series_embeddings.py) and
lss.decide.symmetry's pixel scores (benchmarks/series_symmetry.py) of the real lumbar set.

(a) Validation: 5-fold cross-validation by patient within the training sources only (VB1 only, VB2 only, or
    both), 2 assignments of patients to folds; trained on the whole stacks of the other folds, scored on every
    held-out series as it is (centred) and off-centre. Each variant and review-flag threshold is chosen here.
(b) Leave one source out (VB2: 17 T2 series of one Siemens site; VB1: 11 series of 7 hospitals): the variant
    chosen by (a) within the other source, trained on it, tested on the left-out one zero-shot and with k of its
    series labelled and added to training (10 draws of which k; the rest are tested). Reported, never tuned on.

    PYTHONPATH=. .venv/bin/python benchmarks/series_cv.py --splits "VB1 only,VB2 only"   # results/series_cv.md
    PYTHONPATH=. .venv/bin/python benchmarks/series_cv.py --part a --only learned         # the (a) grid only
    PYTHONPATH=. .venv/bin/python benchmarks/series_cv.py --part a --splits "all sources" # selector=learned's default

The off-centre stacks are benchmarks/real_lumbar.py's (3-4 slices dropped from one end of every series).
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
import torch
from real_lumbar import off_centre
from series_embeddings import embedded_slices
from series_symmetry import MAX_DROPPED, symmetry_scores

from lss.analysis.stats import corrected_resampled_t
from lss.analysis.tables import format_p
from lss.decide.series_scorer import (
    LabelledSeries,
    ScorerParams,
    SeriesScorer,
    fit_series_scorer,
    log_p_with_prior,
    mid_plane_mm,
    series_centred,
    slice_logits,
    sub_stack_bounds,
)
from lss.decide.symmetry import MidPlaneEstimate, SymmetryParams
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
    dropped: tuple[int, int]
    """Slices this stack lacks at the low and the high end of the series as labelled (its sub-stack)."""

    def symmetry(self) -> MidPlaneEstimate:
        """lss.decide.symmetry's estimate on this stack's own slices (cached scores, series_symmetry.py)."""
        scores = SYMMETRY[(self.uid, *self.dropped)]
        ranked = np.where(np.isfinite(scores), scores, -np.inf)
        p_mid = np.exp((ranked - ranked.max()) / SymmetryParams().temperature)
        return MidPlaneEstimate(scores, p_mid / p_mid.sum(), int(np.argmax(ranked)), float("nan"))

    def sub_stack(self, low: int, high: int) -> Series:
        kept = slice(low, len(self.positions_mm) - high)
        return replace(
            self,
            embeddings=self.embeddings[kept],
            positions_mm=self.positions_mm[kept],
            mid=self.mid - low,
            dropped=(self.dropped[0] + low, self.dropped[1] + high),
        )


SYMMETRY: dict[tuple[str, int, int], np.ndarray] = {}


def stacks(kind: str) -> list[Series]:
    """Every labelled series of the set, slices in position order, centred (as labelled) or off-centre."""
    embedded = embedded_slices()
    SYMMETRY.update(symmetry_scores(embedded.slices))
    table = embedded.slices.assign(embedding_row=np.arange(len(embedded.slices)))
    counts = table.groupby("series_uid").size()
    if kind == "off-centre":
        table = off_centre(table)
    result = []
    for uid, part in table.sort_values(["series_uid", "slice_location_mm"]).groupby("series_uid", sort=True):
        first = part.iloc[0]
        positions = part["slice_location_mm"].to_numpy(float)
        low = int((embedded.slices.loc[embedded.slices["series_uid"] == uid, "slice_location_mm"] < positions[0]).sum())
        result.append(
            Series(
                str(uid),
                str(first["patient"]),
                str(first["source"]),
                str(first["weighting"]),
                embedded.embeddings[part["embedding_row"].to_numpy()],
                positions,
                int(np.flatnonzero(part["is_mid_sagittal"].to_numpy(bool))[0]),
                (low, int(counts[uid]) - len(part) - low),
            )
        )
    return result


# -- selectors: fitted on training series, they give one score per slice of a series ---------------------------
Scores = Callable[[Series], np.ndarray]
Selector = Callable[[Sequence[Series], Sequence[float]], Scores]


def centre_rule(train: Sequence[Series], weights: Sequence[float]) -> Scores:
    return lambda series: -np.abs(np.arange(len(series.positions_mm)) - centre_index(len(series.positions_mm)))


def symmetry_rule(train: Sequence[Series], weights: Sequence[float]) -> Scores:
    """Label-free: lss.decide.symmetry's log p_mid alone (no training)."""
    return lambda series: log_p_with_prior(np.zeros(len(series.positions_mm)), series.symmetry().p_mid, 1.0)


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


@dataclass(frozen=True)
class Learned:
    """How lss.decide.series_scorer is trained and combined with the symmetry estimate."""

    params: ScorerParams = field(default_factory=ScorerParams)
    crops: int = 0
    """Random sub-stacks per training series (besides the whole stack), dropping 0..MAX_DROPPED slices per end."""
    symmetry_input: bool = False
    """The stack's symmetry slice scores as one more input of the scorer."""
    prior_weight: float = 0.0
    """Weight of the symmetry log p_mid added to the learned log p."""
    weightings: tuple[str, ...] = (T2,)
    """Weightings trained on."""

    def __str__(self) -> str:
        changed = [
            f"{param.name}={getattr(self.params, param.name)}"
            for param in fields(ScorerParams)
            if getattr(self.params, param.name) != getattr(ScorerParams(), param.name)
        ]
        parts = [
            *changed,
            f"crops {self.crops}" if self.crops else "",
            "symmetry input" if self.symmetry_input else "",
            f"prior {self.prior_weight:g}" if self.prior_weight else "",
            "all weightings" if self.weightings != (T2,) else "",
        ]
        return "learned " + (", ".join(part for part in parts if part) or "defaults")


FITTED: dict[tuple[object, ...], SeriesScorer] = {}


def fitted(recipe: Learned, train: Sequence[Series], weights: Sequence[float]) -> SeriesScorer:
    """The scorer for ``recipe`` (its prior weight aside) on these training series, fitted once."""
    key = (recipe.params, recipe.crops, recipe.symmetry_input, tuple(item.uid for item in train), tuple(weights))
    if key not in FITTED:
        rng = np.random.default_rng(0)
        labelled = []
        for item, weight in zip(train, weights):
            for low, high in sub_stack_bounds(len(item.positions_mm), item.mid, MAX_DROPPED, recipe.crops, rng):
                crop = item.sub_stack(low, high)
                label_free = crop.symmetry().slice_scores if recipe.symmetry_input else None
                labelled.append(LabelledSeries(crop.embeddings, crop.positions_mm, crop.mid, weight, label_free))
        FITTED[key] = fit_series_scorer(labelled, recipe.params)
    return FITTED[key]


def learned(recipe: Learned) -> Selector:
    def fit(train: Sequence[Series], weights: Sequence[float]) -> Scores:
        scorer = fitted(recipe, train, weights)

        def scores(series: Series) -> np.ndarray:
            estimate = series.symmetry()
            label_free = estimate.slice_scores if recipe.symmetry_input else None
            logits = slice_logits(scorer, series.embeddings, series.positions_mm, label_free)
            return log_p_with_prior(logits, estimate.p_mid, recipe.prior_weight)

        return scores

    return fit


@dataclass(frozen=True)
class Variant:
    name: str
    selector: Selector
    train_weightings: tuple[str, ...] | None
    """Weightings the selector trains on (None: all of T1, T2, STIR)."""


def outcome(series: Series, scores: np.ndarray) -> dict[str, float]:
    """One tested series: exact hit, within one slice, plane error (mm), and the review flags' inputs."""
    pick = int(np.argmax(scores))
    p = np.exp(scores - scores.max())
    p = np.sort(p / p.sum())
    return {
        "hit": float(pick == series.mid),
        "hit_1": float(abs(pick - series.mid) <= 1),
        "error_mm": abs(mid_plane_mm(scores, series.positions_mm) - series.positions_mm[series.mid]),
        "margin": float(p[-1] - p[-2]),
        "max_p": float(p[-1]),
        "disagree": float(abs(pick - series.symmetry().mid_index)),
    }


def evaluate(
    variant: Variant, train: Sequence[Series], weights: Sequence[float], tested: Sequence[Series]
) -> list[dict[str, float | str]]:
    """Fitted on the whole stacks of ``train`` (of the variant's weightings), scored on ``tested``."""
    kept = [
        (item, weight)
        for item, weight in zip(train, weights)
        if variant.train_weightings is None or item.weighting in variant.train_weightings
    ]
    scores = variant.selector([item for item, _ in kept], [weight for _, weight in kept])
    return [outcome(item, scores(item)) | {"series": item.uid} for item in tested]


def patient_folds(series: Sequence[Series], folds: int, seed: int) -> list[np.ndarray]:
    patients = sorted({item.patient for item in series})
    fold_of = dict(zip(np.random.default_rng(seed).permutation(patients), np.arange(len(patients)) % folds))
    assignment = np.array([fold_of[item.patient] for item in series])
    return [np.flatnonzero(assignment == fold) for fold in range(folds)]


def cross_validated(
    variant: Variant, series: dict[str, list[Series]], sources: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """(a) within ``sources``: out-of-fold outcomes of every held-out series, per stack kind; trained on the
    whole (centred) stacks of the other folds."""
    whole = [item for item in series["centred"] if item.source in sources]
    rows: dict[str, list[dict[str, float | str]]] = {kind: [] for kind in STACKS}
    for seed in FOLD_SEEDS:
        for held in patient_folds(whole, FOLDS, seed):
            held_uids = {whole[index].uid for index in held}
            train = [item for item in whole if item.uid not in held_uids]
            for kind in STACKS:
                tested = [item for item in series[kind] if item.uid in held_uids]
                rows[kind] += evaluate(variant, train, [1.0] * len(train), tested)
    return {kind: pd.DataFrame(part) for kind, part in rows.items()}


def left_out(
    variant: Variant, series: dict[str, list[Series]], source: str, labelled: int, seed: int
) -> dict[str, pd.DataFrame]:
    """(b): trained on the whole stacks without ``source`` plus ``labelled`` of its series (drawn by ``seed``),
    tested on its other series, per stack kind."""
    own = [item for item in series["centred"] if item.source == source]
    drawn = {own[index].uid for index in np.random.default_rng(seed).permutation(len(own))[:labelled]}
    added = [item for item in own if item.uid in drawn]
    train = [item for item in series["centred"] if item.source != source] + added
    weights = [1.0] * len(train)
    return {
        kind: pd.DataFrame(
            evaluate(
                variant,
                train,
                weights,
                [item for item in series[kind] if item.source == source and item.uid not in drawn],
            )
        )
        for kind in STACKS
    }


FLAGS = ("disagrees with symmetry", "low margin", "low max p", "disagrees or low margin", "disagrees or low max p")


def flagged(outcomes: pd.DataFrame, name: str, thresholds: dict[str, float]) -> pd.Series:
    disagrees = outcomes["disagree"] >= 1
    low_margin = outcomes["margin"] < thresholds["margin"]
    low_max_p = outcomes["max_p"] < thresholds["max_p"]
    return {
        "disagrees with symmetry": disagrees,
        "low margin": low_margin,
        "low max p": low_max_p,
        "disagrees or low margin": disagrees | (outcomes["margin"] < thresholds["or margin"]),
        "disagrees or low max p": disagrees | (outcomes["max_p"] < thresholds["or max_p"]),
    }[name]


def validation_thresholds(outcomes: pd.DataFrame) -> dict[str, float]:
    """Thresholds flagging at most FLAG_RATE of the validation series (a): the margin and max p quantiles alone,
    and, OR-ed with the disagreement, the largest thresholds that keep the union within FLAG_RATE."""
    thresholds = {
        "margin": float(np.quantile(outcomes["margin"], FLAG_RATE)),
        "max_p": float(np.quantile(outcomes["max_p"], FLAG_RATE)),
    }
    disagrees = outcomes["disagree"].to_numpy() >= 1
    for column in ("margin", "max_p"):
        values = np.sort(outcomes[column].to_numpy())
        allowed = [0.0] + [
            float(value) for value in values if np.mean(disagrees | (outcomes[column].to_numpy() < value)) <= FLAG_RATE
        ]
        thresholds[f"or {column}"] = max(allowed)
    return thresholds


def flag_cells(outcomes: pd.DataFrame, thresholds: dict[str, float]) -> list[str]:
    """Per flag: share of exact-mid misses caught / share of series flagged."""
    misses = outcomes["hit"] == 0
    cells = []
    for name in FLAGS:
        flags = flagged(outcomes, name, thresholds)
        caught = f"{flags[misses].mean():.2f}" if misses.any() else "-"
        cells.append(f"{caught} / {flags.mean():.2f}")
    return cells


def summary(outcomes: pd.DataFrame) -> list[str]:
    return [f"{outcomes[key].mean():.2f}" for key in ("hit", "hit_1", "error_mm")]


def validation_score(outcomes: dict[str, pd.DataFrame]) -> tuple[float, float, float]:
    """What (a) ranks variants by: exact hit over both stack kinds, then within one slice, then minus plane error."""
    both = pd.concat(outcomes.values())
    return (both["hit"].mean(), both["hit_1"].mean(), -both["error_mm"].mean())


def grid() -> list[Variant]:
    """Baselines, and the learned scorer: bin pooling x sub-stack training x symmetry input, each with symmetry
    priors of several weights."""
    variants = [
        Variant("centre rule", centre_rule, None),
        Variant("pixel symmetry (label-free)", symmetry_rule, None),
        Variant("ridge distance (today's selector=series), T2", ridge_distance(), (T2,)),
    ]
    recipes = [
        Learned(replace(ScorerParams(), pooling=pooling), crops, symmetry_input, prior)
        for pooling in ("sum", "mean")
        for crops in (0, CROPS)
        for symmetry_input in (False, True)
        for prior in PRIOR_WEIGHTS
    ]
    return variants + [Variant(str(recipe), learned(recipe), recipe.weightings) for recipe in recipes]


CROPS = 4
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
SPLITS = {"all sources": ("VB1", "VB2"), "VB1 only": ("VB1",), "VB2 only": ("VB2",)}
"""(a) splits: the sources cross-validated within. A left-out source's variant is chosen within the other one."""
TRAINING_SPLIT = {"VB2": "VB1 only", "VB1": "VB2 only"}


def validation(
    variants: Sequence[Variant], series: dict[str, list[Series]], splits: Sequence[str]
) -> dict[str, dict[str, dict[str, pd.DataFrame]]]:
    """(a) split -> variant -> stack kind -> out-of-fold outcomes; printed as it goes."""
    results: dict[str, dict[str, dict[str, pd.DataFrame]]] = {split: {} for split in splits}
    for variant in variants:
        started = time.monotonic()
        cells = []
        for split in splits:
            results[split][variant.name] = cross_validated(variant, series, SPLITS[split])
            cells += [cell for kind in STACKS for cell in summary(results[split][variant.name][kind])[:1]]
        print(variant.name, "|", " | ".join(cells), f"({time.monotonic() - started:.0f} s)", flush=True)
    return results


def validation_rows(outcomes: dict[str, dict[str, pd.DataFrame]]) -> list[list[str]]:
    rows = []
    for name in sorted(outcomes, key=lambda name: validation_score(outcomes[name]), reverse=True):
        rows.append(
            [
                name,
                *(cell for kind in STACKS for cell in summary(outcomes[name][kind])),
                str(len(outcomes[name]["centred"]) // len(FOLD_SEEDS)),
            ]
        )
    return rows


def paired_cell(baseline: list[float], variant: list[float], ratio: float) -> str:
    """Mean difference of exact hit over the draws (variant - baseline) and its corrected resampled t p-value
    (Nadeau-Bengio: the draws share most of their training series)."""
    if len(variant) < 2:
        return ""
    test = corrected_resampled_t(np.asarray(baseline), np.asarray(variant), (ratio, ratio), paired=True)
    return f"{test.difference:+.2f} (p {format_p(test.p)})"


def draw_hits(outcomes: pd.DataFrame, reference: pd.DataFrame, centre: dict[str, float]) -> tuple[float, ...]:
    """Exact hit of one draw's tested series: the variant, the same variant zero-shot, the centre rule."""
    uids = set(outcomes["series"])
    zero_shot = reference[reference["series"].isin(uids)]["hit"].mean()
    return float(outcomes["hit"].mean()), float(zero_shot), float(np.mean([centre[uid] for uid in uids]))


def centre_hits(series: Sequence[Series]) -> dict[str, float]:
    return {item.uid: float(centre_index(len(item.positions_mm)) == item.mid) for item in series}


def left_out_rows(
    variant: Variant,
    source: str,
    series: dict[str, list[Series]],
    thresholds: dict[str, float],
    seeds: int,
) -> list[list[str]]:
    rows = []
    zero_shot: dict[str, pd.DataFrame] = {}
    for labelled in LABELLED_COUNTS[source]:
        draws = [0] if labelled == 0 else range(seeds)
        per_draw = [left_out(variant, series, source, labelled, seed) for seed in draws]
        for kind in STACKS:
            outcomes = pd.concat([draw[kind] for draw in per_draw])
            zero_shot.setdefault(kind, outcomes)
            hits = [draw_hits(draw[kind], zero_shot[kind], centre_hits(series[kind])) for draw in per_draw]
            n_train = sum(item.source != source for item in series["centred"]) + labelled
            ratio = len(per_draw[0][kind]) / n_train
            rows.append(
                [
                    variant.name,
                    source,
                    kind,
                    str(labelled),
                    str(len(draws)),
                    str(len(outcomes)),
                    *summary(outcomes),
                    paired_cell([hit[1] for hit in hits], [hit[0] for hit in hits], ratio) if labelled else "",
                    paired_cell([hit[2] for hit in hits], [hit[0] for hit in hits], ratio),
                    *flag_cells(outcomes, thresholds),
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
    parser.add_argument(
        "--splits", default=",".join(SPLITS), help="the (a) splits to validate on (comma-separated names of SPLITS)"
    )
    parser.add_argument("--seeds", type=int, default=len(DRAW_SEEDS), help="draws of the k labelled series")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.monotonic()
    series = {kind: stacks(kind) for kind in STACKS}
    variants = [variant for variant in grid() if re.search(args.only, variant.name)]
    results = validation(variants, series, args.splits.split(","))
    command = "benchmarks/series_cv.py " + " ".join(sys.argv[1:])
    header = ["variant", *(f"{kind} {metric}" for kind in STACKS for metric in ("hit", "±1", "err mm")), "series"]
    lines = [
        "# Series scorers and the review flag: validation and leave-one-source-out (benchmarks/series_cv.py)",
        "",
        f"{datetime.date.today()}, `PYTHONPATH=. nice -n 10 .venv/bin/python {command.strip()}`, 1 torch thread, "
        "2 shared CPU cores. Frozen ImageNet EfficientNet-Lite0 embeddings and lss.decide.symmetry's pixel "
        "scores (both cached), real lumbar set.",
        "",
    ]
    by_name = {variant.name: variant for variant in variants}
    chosen = {}
    for split, outcomes in results.items():
        learned_names = [name for name in outcomes if name.startswith("learned")]
        chosen[split] = max(learned_names, key=lambda name: validation_score(outcomes[name]))
        lines += [
            f"## (a) {FOLDS}-fold patient CV within {split}, every held-out series, {len(FOLD_SEEDS)} fold "
            "assignments pooled (trained on whole stacks)",
            "",
            f"Chosen (best exact hit over both stack kinds): **{chosen[split]}**.",
            "",
            markdown_table(header, validation_rows(outcomes)),
            "",
        ]
    print("\n".join(lines), flush=True)
    if args.part == "a":
        return
    table = []
    for source, split in TRAINING_SPLIT.items():
        if split not in results:
            continue
        for name in (
            "centre rule",
            "pixel symmetry (label-free)",
            "ridge distance (today's selector=series), T2",
            chosen[split],
        ):
            if name not in by_name:
                continue
            thresholds = validation_thresholds(pd.concat(results[split][name].values()))
            table += left_out_rows(by_name[name], source, series, thresholds, args.seeds)
    flag_header = [f"{flag}: caught / flagged" for flag in FLAGS]
    lines += [
        f"## (b) Leave one source out: zero-shot and with k labelled series of it ({args.seeds} draws)",
        "",
        "Each left-out source's learned variant and flag thresholds come from (a) within the other source "
        f"(VB2 left out: (a) within VB1; VB1 left out: (a) within VB2); thresholds flag at most {FLAG_RATE:.0%} "
        "of that (a)'s series. Caught: share of exact-mid misses flagged.",
        "",
        markdown_table(
            [
                "variant",
                "left out",
                "stacks",
                "k",
                "draws",
                "series tested",
                "hit",
                "±1",
                "err mm",
                "hit vs zero-shot (paired over draws)",
                "hit vs centre rule (paired over draws)",
                *flag_header,
            ],
            table,
        ),
        "",
        f"Wall time {(time.monotonic() - started) / 60:.0f} min.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
