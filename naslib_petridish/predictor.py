"""``SyntheticPetriDishPredictor``: the dish behind NASLib's predictor contract.

``fit(xtrain, ytrain)`` generates the dish from the training architectures
(the outer loop draws each epoch's ``outer_batch`` architectures from them,
reusing them when there are fewer than ``outer_batch x outer_epochs``), then
calibrates: ``calibration_size`` training architectures are trained on the
final dish and a linear fit maps their score ``z^`` to their accuracy.  The
paper's loss ``1 - |r|`` leaves the sign of the relation open; the fit fixes
it, so ``query`` returns calibrated accuracies where higher means better.
With ``calibration: linear_params`` (not the paper) the map also takes the
log parameter count of the full network, a free feature; see RANKING.md.  (The learned
ranking model is :class:`naslib_petridish.ranker.RankerPredictor`.)

``query(xtest)`` trains each (unseen) motif on the dish, in parallel, and
returns one float64 per architecture.  Architectures may be given in any
form :func:`naslib_petridish.cells.as_cell` accepts, NASLib's NB101 graph
objects included; NASLib itself is not needed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import rundir
from .calibration import apply_calibration, fit_calibration, pick_cells
from .spaces import as_cells
from .config import PetriDishConfig, resolve_config
from .contract import (NB101_SS_TYPES, NASLibContract,  # noqa: F401 (re-export)
                       training_targets)
from .dish import Dish
from .errors import NotFittedError, OutputExistsError, RunDirError, UsageError
from .inner import MotifResult
from .outer import config_difference, fit_dish, score_cells
from .rundir import CHECKPOINT, DISH
from .runner import MotifRunner

#: the file a finished fit leaves in its run directory
FIT_FILE = DISH


class SyntheticPetriDishPredictor(NASLibContract):
    """Synthetic Petri Dish performance predictor for NAS-Bench-101.

    Parameters
    ----------
    config: a :class:`PetriDishConfig`, a dict of its fields, or ``None`` to
        use ``preset``.
    preset: name of a shipped dish preset (``paper-c``, ``paper-b-short``, ``quick``, ...).
    table: an ``NB101Table``, needed only to resolve architectures given as hashes.
    out_dir: where ``fit`` keeps its run (log, checkpoints, dish); optional.
    resume: with ``out_dir``, every ``fit`` continues an interrupted fit found there and
        reuses a finished one (same config and training architectures), as ``fit(...,
        resume=True)`` does; for callers that call ``fit(xtrain, ytrain)`` only, such as
        NASLib's ``PredictorEvaluator``.
    progress: show progress bars.
    overrides: config fields that replace the preset's (``inner_epochs=16``, ...).
    """

    label = "petridish"
    #: what a finished fit leaves in its run directory
    fit_file = FIT_FILE

    def __init__(self, config: PetriDishConfig | dict | None = None, preset: str = "paper-c",
                 table=None, out_dir: str | os.PathLike | None = None, progress: bool = False,
                 ss_type: str | None = None, resume: bool = False,
                 **overrides: Any):
        self._setup(config, PetriDishConfig, resolve_config, preset, overrides, table,
                    out_dir, progress, ss_type, resume)
        self.dish: Dish | None = None
        self.last_results: list[MotifResult] = []
        #: motifs trained by this predictor (cache hits excluded)
        self.motifs_trained = 0
        self._runner: MotifRunner | None = None
        # Motif results on the current dish, by cell hash (see _score).
        self._motif_cache: dict[str, MotifResult] = {}
        self._motif_cache_key: str | None = None

    # -- fit / query -------------------------------------------------------------
    def fit(self, xtrain: Sequence[Any], ytrain: Sequence[float], info=None,
            resume: bool = False, force: bool = False) -> dict:
        """Generate the dish and calibrate it; returns the calibration summary.

        With ``out_dir`` the run directory is locked for the whole fit (another
        process is refused), checkpointed every outer epoch, and ends with
        ``dish.pt``; ``resume`` continues an interrupted fit there, or reuses the dish
        of a finished one (for the same config and training architectures)."""
        self._check_ss()
        cells = as_cells(xtrain, self.config.space, self.table)
        y = training_targets(ytrain, len(cells))
        cfg = self.config
        resume = resume or self.resume
        with contextlib.ExitStack() as stack:
            stack.enter_context(self._abort_on_error())
            out = (None if self.out_dir is None
                   else stack.enter_context(rundir.hold(self.out_dir)))
            if out is not None and resume and not force and (out / DISH).exists():
                return self._reuse_finished_fit(out, cells)
            t0 = time.perf_counter()
            runner = self._get_runner()
            dish = fit_dish(cfg, cells, y, out_dir=out, resume=resume, force=force,
                            progress=self.progress, runner=runner)
            at = dish.meta.get("resumed_at_epoch")
            self.fit_start = "new" if at is None else f"resumed at epoch {at}"
            t_cal = time.perf_counter()
            self.dish = dish
            # calibration: distinct training architectures, re-trained on the final dish
            pick = pick_cells([c.hash for c in cells], cfg.calibration_size, cfg.seed)
            cal = None
            if len(pick):
                res = self._score([cells[i] for i in pick], "calibration")
                scores = [r.score for r in res]
                cal = fit_calibration(cfg.calibration, scores, y[pick],
                                      [cells[i] for i in pick])
                cal.update(hashes=[cells[i].hash for i in pick], scores=scores,
                           accuracies=y[pick].tolist())
            dish.calibration = cal
            # wall time of this call plus the outer epochs of earlier, interrupted calls
            # (their start-up time is not counted: seconds against hours of outer epochs)
            now = time.perf_counter()
            self.fit_seconds = now - t0 + dish.meta.get("seconds_before_resume", 0.0)
            dish.meta["fit_seconds"] = self.fit_seconds
            dish.meta["calibration_seconds"] = now - t_cal
            if out is not None:
                dish.save(out / DISH)
                (out / CHECKPOINT).unlink(missing_ok=True)
        return cal or {}

    def _reuse_finished_fit(self, out: Path, cells) -> dict:
        """The dish a finished fit left in ``out``, after checking that it was fitted with
        this config on these training architectures."""
        dish = Dish.load(out / DISH)
        diff = config_difference(dish.config.to_dict(), self.config.to_dict())
        if diff:
            raise RunDirError(
                f"{out} holds a dish fitted with other settings ({', '.join(diff)}); use "
                "another out_dir, or fit with force=True to replace it")
        try:
            saved = json.loads((out / rundir.TRAIN_SET).read_text())["hashes"]
        except (OSError, ValueError, KeyError) as exc:
            raise RunDirError(
                f"{out / rundir.TRAIN_SET} is missing or damaged, so the dish there cannot be "
                f"matched to this training set ({exc})") from exc
        if saved != [c.hash for c in cells]:
            raise RunDirError(
                f"{out} holds a dish fitted on other training architectures; use another "
                "out_dir, or fit with force=True to replace it")
        dish.config = self.config  # same up to workers/backend: run it as configured now
        self.dish = dish
        self.fit_seconds = float(dish.meta.get("fit_seconds", float("nan")))
        self.fit_start = "reused"
        return dish.calibration or {}

    @staticmethod
    def _dish_key(dish: Dish) -> str:
        """Digest of everything a motif's result depends on besides its cell: the dish's
        images and labels and the config (inner loop, motif, seed)."""
        h = hashlib.sha1()
        h.update(dish.images.detach().cpu().contiguous().numpy().tobytes())
        h.update(dish.labels.detach().cpu().contiguous().numpy().tobytes())
        h.update(json.dumps(dish.config.to_dict(), sort_keys=True, default=str).encode())
        return h.hexdigest()

    def _score(self, cells, desc: str, progress: Callable[[int], object] | None = None
               ) -> list[MotifResult]:
        """Motif results for ``cells`` on the current dish.

        A motif's result is a function of the dish, the config and the cell alone (its
        seed comes from the run seed and the cell hash: ``score_cells``), so results are
        kept by cell hash for as long as the dish stays the same and a cell is trained
        once: a repeated query, or a refit on cells queried before (as search does:
        every evaluated child was scored first), trains only the cells not seen on this
        dish.  A new dish (a fit that trains it, a load) empties the cache."""
        from tqdm.auto import tqdm

        dish = self._require_dish()
        key = self._dish_key(dish)
        if key != self._motif_cache_key:
            self._motif_cache, self._motif_cache_key = {}, key
        cache = self._motif_cache
        todo, seen = [], set()
        for c in cells:
            if c.hash not in cache and c.hash not in seen:
                todo.append(c)
                seen.add(c.hash)
        if todo:
            if progress is not None or not self.progress:
                fresh = score_cells(dish, todo, self._get_runner(), progress)
            else:
                with tqdm(total=len(todo), desc=desc) as bar:
                    fresh = score_cells(dish, todo, self._get_runner(), bar.update)
            self.motifs_trained += len(todo)
            for c, r in zip(todo, fresh):
                cache[c.hash] = r
        return [cache[c.hash] for c in cells]

    def scores(self, xtest: Sequence[Any], progress: Callable[[int], object] | None = None
               ) -> np.ndarray:
        """Raw dish scores ``z^`` (uncalibrated).  ``progress(1)`` is called per motif
        (else a progress bar is shown when the predictor has ``progress``)."""
        self._require_dish()
        cells = as_cells(xtest, self.config.space, self.table)
        t0 = time.perf_counter()
        with self._abort_on_error():
            res = self._score(cells, "query", progress)
        self.last_query_seconds_per_arch = (time.perf_counter() - t0) / max(1, len(cells))
        self.last_results = res
        return np.array([r.score for r in res], dtype=np.float64)

    def query(self, xtest: Sequence[Any], info=None,
              progress: Callable[[int], object] | None = None) -> np.ndarray:
        """Calibrated predictions, float64, one per architecture (higher = better)."""
        self._check_ss()
        self._require_dish()
        cells = as_cells(xtest, self.config.space, self.table)
        t0 = time.perf_counter()
        s = self.scores(cells, progress)
        out = apply_calibration(self.dish.calibration, s, cells)
        self.last_query_seconds_per_arch = (time.perf_counter() - t0) / max(1, len(cells))
        return out

    @property
    def generates_dish(self) -> bool:
        """True where ``fit`` optimizes the dish over outer epochs (minutes to hours, worth
        an ``out_dir`` to checkpoint into); False for an untrained dish."""
        cfg = self.config
        return cfg.outer_epochs > 0 and cfg.outer_lr > 0

    # -- persistence --------------------------------------------------------------
    def save(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write ``dish.pt`` and ``predictor.json`` into ``directory`` (created if
        missing); an existing dish there is replaced only with ``overwrite``."""
        dish = self._require_dish()
        d = Path(directory)
        if d.exists() and not d.is_dir():
            raise UsageError(f"{d} is a file; save() takes a directory to write dish.pt into")
        if (d / DISH).exists() and not overwrite:
            raise OutputExistsError(f"{d / DISH} exists; pass overwrite=True to replace it")
        d = rundir.ensure_dir(d)
        dish.save(d / DISH)
        rundir.write_atomic(d / "predictor.json", json.dumps(
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

    @classmethod
    def load_finished(cls, out: Path, cfg: PetriDishConfig, table=None, progress: bool = False
                      ) -> "SyntheticPetriDishPredictor":
        """The predictor of the finished fit in ``out``, after checking that it was fitted
        with ``cfg`` (else its training cells may not be the ones asked for)."""
        dish = Dish.load(Path(out) / DISH)
        diff = config_difference(dish.config.to_dict(), cfg.to_dict())
        if diff:
            raise RunDirError(
                f"cannot resume {out}: its dish was fitted with a config that differs in {diff}, "
                "so its training cells are not the ones asked for; resume with the settings in "
                "its config.yaml, or use a new --out")
        return cls.load(out, table=table, progress=progress, workers=cfg.workers)

    def digest(self) -> str:
        """Identity of the fitted dish (its pixels and calibration), for query checkpoints."""
        dish = self._require_dish()
        h = hashlib.sha1(dish.images.detach().cpu().numpy().tobytes())
        h.update(json.dumps(dish.calibration, sort_keys=True, default=str).encode())
        return h.hexdigest()

    def summary(self) -> dict:
        """The calibration without its per-cell lists (for metrics.json)."""
        cal = self._require_dish().calibration or {}
        return {k: v for k, v in cal.items() if k not in ("hashes", "scores", "accuracies")}

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

    def close(self, abort: bool = False) -> None:
        """Stop the worker processes (also done when the predictor is collected); with
        ``abort``, at once, without waiting for the motifs in training."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            runner.__exit__(KeyboardInterrupt if abort else None, None, None)

    _unpicklable = "_runner"  # worker processes (NASLibContract.__getstate__)
