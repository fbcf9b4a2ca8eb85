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
