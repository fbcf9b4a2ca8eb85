"""Rank and linear correlations of predictions with ground truth (scipy.stats).

A correlation is undefined when a side has fewer than two values or is
constant; it is then reported as ``0.0`` with ``defined: False`` (the paper
scores such outer epochs 0), and printed as ``undefined``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats


def _defined(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) >= 2 and len(a) == len(b) and bool(np.ptp(a) > 0) and bool(np.ptp(b) > 0)


def kendall(a: Sequence[float], b: Sequence[float]) -> tuple[float, bool]:
    """Kendall tau (tau-b), and whether it was defined."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not _defined(a, b):
        return 0.0, False
    t = stats.kendalltau(a, b).statistic
    return (0.0, False) if not np.isfinite(t) else (float(t), True)


def correlations(pred: Sequence[float], truth: Sequence[float]) -> dict:
    """Kendall tau, Spearman rho and Pearson r of ``pred`` against ``truth``."""
    p, t = np.asarray(pred, float), np.asarray(truth, float)
    if not _defined(p, t):
        return {"kendall_tau": 0.0, "spearman": 0.0, "pearson": 0.0, "defined": False}
    return {"kendall_tau": float(stats.kendalltau(p, t).statistic),
            "spearman": float(stats.spearmanr(p, t).statistic),
            "pearson": float(stats.pearsonr(p, t).statistic), "defined": True}


def fmt(value: float, defined: bool = True, digits: int = 3) -> str:
    """A signed correlation for the console, or ``undefined``."""
    return f"{value:+.{digits}f}" if defined else "undefined"


def paired_kendall_difference(truth: Sequence[Sequence[float]], a: Sequence[Sequence[float]],
                              b: Sequence[Sequence[float]], reps: int = 2000,
                              seed: int = 0, level: float = 0.95) -> dict:
    """Mean over trials of Kendall tau(a) - tau(b), each trial's predictions ``a`` and ``b``
    of the same test cells (``truth``), with a percentile confidence interval from a
    two-level bootstrap: trials drawn with replacement, then within each drawn trial its
    test cells drawn with replacement (both predictors scored on the same draw: paired)."""
    truth = [np.asarray(t, float) for t in truth]
    a = [np.asarray(v, float) for v in a]
    b = [np.asarray(v, float) for v in b]
    if not (len(truth) == len(a) == len(b)) or not truth:
        raise ValueError("one truth, a and b per trial, at least one trial")

    def diff(t, p, q):
        return stats.kendalltau(p, t).statistic - stats.kendalltau(q, t).statistic

    per_trial = np.array([diff(t, p, q) for t, p, q in zip(truth, a, b)])
    rng = np.random.default_rng(seed)
    boots = np.empty(reps)
    for r in range(reps):
        ks = rng.integers(0, len(truth), len(truth))
        vals = []
        for k in ks:
            i = rng.integers(0, len(truth[k]), len(truth[k]))
            vals.append(diff(truth[k][i], a[k][i], b[k][i]))
        boots[r] = np.nanmean(vals)
    lo, hi = np.nanpercentile(boots, [50 * (1 - level), 50 * (1 + level)])
    return {"mean": float(per_trial.mean()), "ci_low": float(lo), "ci_high": float(hi),
            "per_trial": per_trial.tolist(), "trials": len(truth), "reps": reps,
            "level": level}
