"""``SyntheticPetriDishPredictor``: the dish behind NASLib's predictor contract.

``fit(xtrain, ytrain)`` generates the dish from the training architectures
(the outer loop draws each epoch's ``outer_batch`` architectures from them,
reusing them when there are fewer than ``outer_batch x outer_epochs``), then
calibrates: ``calibration_size`` training architectures are trained on the
final dish and a linear fit maps their score ``z^`` to their accuracy.  The
paper's loss ``1 - |r|`` leaves the sign of the relation open; the fit fixes
it, so ``query`` returns calibrated accuracies where higher means better.
With ``calibration: linear_params`` (not the paper) the map also takes the
log parameter count of the full network, a free feature; see RANKING.md.

``query(xtest)`` trains each (unseen) motif on the dish, in parallel, and
returns one float64 per architecture.  Architectures may be given in any
form :func:`naslib_petridish.cells.as_cell` accepts, NASLib's NB101 graph
objects included; NASLib itself is not needed.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .cells import Cell, as_cells
from .config import PetriDishConfig, resolve_config
from .dish import Dish
from .inner import MotifResult, MotifRunner
from .outer import DISH, apply_calibration, fit_calibration, fit_dish, score_cells

NB101_SS_TYPES = ("nasbench101", "nb101", None)


class NotFittedError(RuntimeError):
    pass


class SyntheticPetriDishPredictor:
    """Synthetic Petri Dish performance predictor for NAS-Bench-101.

    Parameters
    ----------
    config: a :class:`PetriDishConfig`, a dict of its fields, or ``None`` to
        use ``preset``.
    preset: name of a shipped preset (``paper-c``, ``paper-b-short``, ``quick``, ...).
    table: an ``NB101Table``, needed only to resolve architectures given as hashes.
    out_dir: where ``fit`` keeps its run (log, checkpoints, dish); optional.
    progress: show progress bars.
    overrides: config fields that replace the preset's (``inner_epochs=16``, ...).
    """

    def __init__(self, config: PetriDishConfig | dict | None = None, preset: str = "paper-c",
                 table=None, out_dir: str | os.PathLike | None = None, progress: bool = False,
                 ss_type: str | None = "nasbench101", **overrides: Any):
        if isinstance(config, PetriDishConfig):
            cfg = config.replace(**overrides) if overrides else config
        elif isinstance(config, dict):
            cfg = PetriDishConfig.from_dict({**config, **overrides})
        else:
            cfg = resolve_config(preset, overrides=overrides)
        self.config = cfg
        self.table = table
        self.out_dir = out_dir
        self.progress = progress
        self.ss_type = ss_type
        self.encoding_type = None
        self.hyperparams = None
        self.hpo_wrapper = False
        self.dish: Dish | None = None
        self.fit_seconds = float("nan")
        self.last_query_seconds_per_arch = float("nan")
        self.last_results: list[MotifResult] = []
        self._runner: MotifRunner | None = None

    # -- NASLib predictor contract -------------------------------------------------
    def set_ss_type(self, ss_type: str) -> None:
        self.ss_type = ss_type

    def pre_process(self) -> None:
        """Nothing to precompute before the search starts."""

    def pre_compute(self, xtrain=None, xtest=None, unlabeled=None) -> None:
        """Nothing to precompute per train/test split."""

    def get_data_reqs(self) -> dict:
        return {"requires_partial_lc": False, "metric": None, "requires_hyperparameters": False,
                "hyperparams": {}, "unlabeled": False, "unlabeled_factor": 0}

    def set_hyperparams(self, hyperparams: dict | None) -> None:
        self.hyperparams = hyperparams
        if hyperparams:
            self.config = self.config.replace(**hyperparams)

    def get_hyperparams(self) -> dict | None:
        return self.hyperparams

    def reset_hyperparams(self) -> None:
        self.hyperparams = None

    def get_hpo_wrapper(self) -> bool:
        return self.hpo_wrapper

    def requires_partial_training(self, xtest=None) -> bool:
        return False

    def set_random_hyperparams(self) -> dict | None:
        """NASLib's HPO hook; the dish has no search space of hyperparameters."""
        return self.hyperparams

    def set_pre_computations(self, unlabeled=None, xtrain_zc_info=None, xtest_zc_info=None,
                             unlabeled_zc_info=None) -> None:
        """NASLib's ensemble hook for zero-cost/unlabeled inputs; not used by the dish."""

    def _check_ss(self) -> None:
        if self.ss_type not in NB101_SS_TYPES:
            raise ValueError(f"the Synthetic Petri Dish predictor supports NAS-Bench-101 only, "
                             f"not search space '{self.ss_type}'")

    def fit(self, xtrain: Sequence[Any], ytrain: Sequence[float], info=None,
            resume: bool = False, force: bool = False) -> dict:
        """Generate the dish and calibrate it; returns the calibration summary."""
        self._check_ss()
        cells = as_cells(xtrain, self.table)
        y = np.asarray(ytrain, dtype=np.float64).reshape(-1)
        if len(y) != len(cells):
            raise ValueError(f"fit got {len(cells)} architectures but {len(y)} accuracies")
        cfg = self.config
        t0 = time.perf_counter()
        runner = self._get_runner()
        dish = fit_dish(cfg, cells, y, out_dir=self.out_dir, resume=resume, force=force,
                        progress=self.progress, runner=runner)
        t_cal = time.perf_counter()
        # calibration: distinct training architectures, re-trained on the final dish
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0xCA1]))
        _, first = np.unique([c.hash for c in cells], return_index=True)
        pick = rng.permutation(np.sort(first))[:cfg.calibration_size]
        if len(pick):
            res = score_cells(dish, [cells[i] for i in pick], runner, progress=self.progress,
                              desc="calibration")
            cal = fit_calibration(cfg.calibration, [r.score for r in res], y[pick],
                                  [cells[i] for i in pick])
            cal["hashes"] = [cells[i].hash for i in pick]
            cal["scores"] = [r.score for r in res]
            cal["accuracies"] = y[pick].tolist()
        else:
            cal = None
        dish.calibration = cal
        # wall time of this call plus the outer epochs of earlier, interrupted calls (their
        # start-up time is not counted: it is seconds against hours of outer epochs)
        now = time.perf_counter()
        self.fit_seconds = now - t0 + dish.meta.get("seconds_before_resume", 0.0)
        dish.meta["fit_seconds"] = self.fit_seconds
        dish.meta["calibration_seconds"] = now - t_cal
        self.dish = dish
        if self.out_dir is not None:
            dish.save(Path(self.out_dir) / DISH)
            (Path(self.out_dir) / "checkpoint.pt").unlink(missing_ok=True)
        return cal or {}

    def scores(self, xtest: Sequence[Any]) -> np.ndarray:
        """Raw dish scores ``z^`` (uncalibrated)."""
        dish = self._require_dish()
        cells = as_cells(xtest, self.table)
        t0 = time.perf_counter()
        res = score_cells(dish, cells, self._get_runner(), progress=self.progress, desc="query")
        self.last_query_seconds_per_arch = (time.perf_counter() - t0) / max(1, len(cells))
        self.last_results = res
        return np.array([r.score for r in res], dtype=np.float64)

    def query(self, xtest: Sequence[Any], info=None) -> np.ndarray:
        """Calibrated predictions, float64, one per architecture (higher = better)."""
        self._check_ss()
        cells = as_cells(xtest, self.table)
        s = self.scores(cells)
        return apply_calibration(self.dish.calibration, s, cells)

    # -- persistence --------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        dish = self._require_dish()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        dish.save(d / DISH)
        (d / "predictor.json").write_text(json.dumps(
            {"class": type(self).__name__, "ss_type": self.ss_type}, indent=2))
        return d / DISH

    @classmethod
    def load(cls, directory: str | os.PathLike, table=None, progress: bool = False,
             workers: int | None = None) -> "SyntheticPetriDishPredictor":
        dish = Dish.load(directory)
        cfg = dish.config if workers is None else dish.config.replace(workers=workers)
        dish.config = cfg
        p = cls(config=cfg, table=table, progress=progress)
        p.dish = dish
        p.fit_seconds = dish.meta.get("fit_seconds", float("nan"))
        return p

    # -- resources ----------------------------------------------------------------
    def _require_dish(self) -> Dish:
        if self.dish is None:
            raise NotFittedError("the predictor has no dish yet: call fit() first, or load() a "
                                 "saved one")
        return self.dish

    def _get_runner(self) -> MotifRunner:
        if self._runner is None:
            cfg = self.config
            self._runner = MotifRunner(cfg.workers, cfg.backend, cfg.ray_address,
                                       cfg.device).__enter__()
        return self._runner

    def close(self) -> None:
        """Stop the worker processes (also done when the predictor is collected)."""
        if self._runner is not None:
            self._runner.__exit__(None, None, None)
            self._runner = None

    def __del__(self):  # pragma: no cover - timing depends on the garbage collector
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_runner"] = None
        return state
