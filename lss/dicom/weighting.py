"""T1 / T2 weighting of a sagittal series from its acquisition parameters (paper Table 1).

Echo time decides first, repetition time confirms, SeriesDescription breaks ties, and
disagreement gives "unknown". Echo train length is never used and TR never decides alone:
3D T1 sequences report ETL 160-256 and some MP-RAGE report TR > 2000 ms with TE ~3 ms.
"""

from __future__ import annotations

import math
import re

from lss.manifest import T1, T2, UNKNOWN

SHORT_TE_MAX_MS = 30.0
"""Table 1 T1 TE is 9.2-12 ms; spin-echo T1 stays below ~30 ms, gradient-echo T1 at 2-5 ms."""
LONG_TE_MIN_MS = 60.0
"""Table 1 T2 TE is 67-96 ms; between 30 and 60 ms (e.g. proton density) TE is no evidence."""
SHORT_TR_MAX_MS = 1000.0
"""Table 1 T1 TR is 330-926 ms."""
LONG_TR_MIN_MS = 2000.0
"""Table 1 T2 TR is 3190-4000 ms."""

_T1_DESCRIPTION = re.compile(r"(?<![a-z0-9])t1(?![0-9])|mp-?_?rage|\bspgr\b|\bvibe\b", re.IGNORECASE)
_T2_DESCRIPTION = re.compile(r"(?<![a-z0-9])t2(?![0-9])", re.IGNORECASE)


def _vote(value_ms: float | None, short_max: float, long_min: float) -> str | None:
    if value_ms is None or not math.isfinite(value_ms) or value_ms <= 0:
        return None
    if value_ms <= short_max:
        return T1
    if value_ms >= long_min:
        return T2
    return None


def description_vote(series_description: str | None) -> str | None:
    """T1 or T2 when SeriesDescription names exactly one of them (e.g. "t2_tse_sag"), else None."""
    text = series_description or ""
    says_t1, says_t2 = bool(_T1_DESCRIPTION.search(text)), bool(_T2_DESCRIPTION.search(text))
    if says_t1 == says_t2:
        return None
    return T1 if says_t1 else T2


def weighting(te_ms: float | None, tr_ms: float | None, series_description: str | None = None) -> str:
    """T1, T2 or unknown: TE first, TR second, description as tie-breaker."""
    te_vote = _vote(te_ms, SHORT_TE_MAX_MS, LONG_TE_MIN_MS)
    tr_vote = _vote(tr_ms, SHORT_TR_MAX_MS, LONG_TR_MIN_MS)
    text_vote = description_vote(series_description)
    if te_vote is not None:
        if tr_vote in (None, te_vote):
            return te_vote
        return te_vote if text_vote == te_vote else UNKNOWN
    # TE silent: neither TR nor the description may decide alone, but they may together.
    if text_vote is not None and tr_vote in (None, text_vote):
        return text_vote
    return UNKNOWN
