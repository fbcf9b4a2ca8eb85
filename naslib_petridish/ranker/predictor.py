"""``RankerPredictor``: the ranking model behind NASLib's predictor contract (fit / query).

``fit(xtrain, ytrain)`` keeps the distinct training cells (the first accuracy of a cell
given twice), in hash order (LightGBM's bagging draws rows by position, so the model would
otherwise depend on the order the cells came in), stacks the columns of the feature sources
(``config.features``), fits every model (``config.models``), optionally self-trains the
graph networks, and keeps the training accuracies' quantiles.  ``query(xtest)`` averages
the models' ranks of each cell (weighted by ``model_weights``) and maps the mean back to
accuracy units through those quantiles: predictions are monotone in the models' output,
higher = better.  With fewer than :data:`MIN_CELLS` distinct training cells there is
nothing to split: a line through the log parameter count is fitted instead (and said so
in :meth:`summary`).

No motif is trained unless a source needs it (the ``dish`` source); with ``out_dir`` the
fitted model is written to ``ranker.json`` (plain JSON: the trees as LightGBM's text model,
the graph networks' weights as lists) and ``fit(..., resume=True)`` reuses it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import __version__, rundir
from ..spaces import as_cells
from ..contract import NASLibContract, training_targets
from ..errors import (DishFileError, NotFittedError, OutputExistsError, RunDirError,
                      UsageError)
from .config import RECOMMENDED, RankerConfig, resolve_ranker_config
from .models import MODELS, GraphNetworks
from .sources import SOURCES, feature_matrix

#: the file a finished fit leaves in its run directory
FIT_FILE = "ranker.json"
FORMAT, FORMAT_VERSION = "naslib-petridish-ranker", 1
#: below this many training cells the trees have nothing to split: a line through the
#: log parameter count is fitted instead
MIN_CELLS = 8


def _log10_params(cells) -> np.ndarray:
    from ..spaces import space_of

    return space_of(list(cells)).free_features(cells)[0][:, 0]


def with_copies(cells, k: int, space: str) -> tuple[list, np.ndarray, np.ndarray]:
    """Each of ``cells`` with up to ``k - 1`` of its isomorphic copies (``space.copies``):
    the distinct cells among them (first seen first), and for every (cell, copy) pair the
    index of the cell and of the copy in that list."""
    from ..spaces import get_space

    sp = get_space(space)
    index: dict[str, int] = {}
    out, owner, at = [], [], []
    for i, c in enumerate(cells):
        for cp in sp.copies(c)[:k]:
            j = index.setdefault(cp.hash, len(out))
            if j == len(out):
                out.append(cp)
            owner.append(i)
            at.append(j)
    return out, np.asarray(owner, np.int64), np.asarray(at, np.int64)


def distinct_cells(cells, y: np.ndarray) -> tuple[list, np.ndarray]:
    """One entry per distinct cell (by hash, in hash order): a cell given several times
    counts once, with the mean of its accuracies (said in a log line where they differ)."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cells):
        groups.setdefault(c.hash, []).append(i)
    keys = sorted(groups)
    out = np.array([y[groups[k][0]] if np.all(y[groups[k]] == y[groups[k][0]])
                    else y[groups[k]].mean() for k in keys], np.float64)
    differ = sum(len(set(y[groups[k]].tolist())) > 1 for k in keys)
    if differ:
        logging.getLogger("naslib_petridish").warning(
            "%d of the %d distinct training cells were given more than once with different "
            "accuracies: each is fitted on the mean of its accuracies", differ, len(keys))
    return [cells[groups[k][0]] for k in keys], out


class RankerPredictor(NASLibContract):
    """Trees + graph networks (+ self-training) on cell features, on any search space.

    Parameters are those of
    :class:`~naslib_petridish.predictor.SyntheticPetriDishPredictor`: ``config`` (a
    :class:`RankerConfig`, a dict of its fields, or ``None`` for ``preset``), ``preset`` (a
    ranker preset; by default the recommended ``cell-features-self-trained``; also
    ``cell-features-boosted``, ``cell-features-co-trained``, ``dish-curve-boosted``,
    ``dish-curve-self-trained``), ``table`` (to resolve hashes, and whose space the
    ranker takes),
    ``out_dir`` (where ``fit`` writes ``ranker.json``), ``resume`` (reuse a finished fit
    there), ``progress`` and ``overrides`` (config fields).
    """

    label = "ranker"
    #: what a finished fit leaves in its run directory
    fit_file = FIT_FILE

    def __init__(self, config: RankerConfig | dict | None = None,
                 preset: str = RECOMMENDED, table=None,
                 out_dir: str | os.PathLike | None = None, progress: bool = False,
                 ss_type: str | None = None, resume: bool = False,
                 **overrides: Any):
        self._setup(config, RankerConfig, resolve_ranker_config, preset, overrides, table,
                    out_dir, progress, ss_type, resume)
        #: the motif results of the last query (the ``dish`` source), else None
        self.last_results: list | None = None
        self.fitted: dict | None = None
        self._sources = None
        self._models = None
        #: what a warm refit continues from (``warm_start``): in memory, for this process
        self._warm: dict = {}

    # -- parts ----------------------------------------------------------------------
    @property
    def sources(self) -> list:
        if self._sources is None:
            self._sources = [SOURCES[n](self.config) for n in self.config.features]
        return self._sources

    def source(self, name: str):
        """The feature source ``name`` of this ranker (e.g. to ``preload`` dish curves)."""
        for s in self.sources:
            if s.name == name:
                return s
        raise UsageError(f"this ranker has no '{name}' source (its features: "
                         f"{', '.join(self.config.features)})")

    def model(self, name: str):
        """The fitted model ``name`` (e.g. ``graph``, to score cells with it alone)."""
        for m in self._models or []:
            if m.name == name:
                return m
        raise UsageError(f"this ranker has no fitted '{name}' model (its models: "
                         f"{', '.join(self.config.models)})")

    @property
    def motifs_trained(self) -> int:
        """Motifs this predictor's sources trained (0 without the ``dish`` source)."""
        return sum(getattr(s, "motifs_trained", 0) for s in self._sources or [])

    @property
    def trains_motifs(self) -> bool:
        return self.config.trains_motifs

    generates_dish = False  # nothing is fitted over outer epochs: no checkpoints needed

    def _matrix(self, cells, progress=None):
        for s in self.sources:
            s.progress = progress
        X, names = feature_matrix(self.sources, cells)
        motif = [s for s in self.sources if s.trains_motifs]
        self.last_results = list(motif[0].last_results) if motif else None
        return X, names

    # -- fit / query ------------------------------------------------------------------
    def fit(self, xtrain: Sequence[Any], ytrain: Sequence[float], info=None,
            resume: bool = False, force: bool = False) -> dict:
        """Fit every model on the distinct training cells; returns :meth:`summary`."""
        self._check_ss()
        cells = as_cells(xtrain, self.config.space, self.table)
        y = training_targets(ytrain, len(cells))
        cells, y = distinct_cells(cells, y)
        with contextlib.ExitStack() as stack:
            stack.enter_context(self._abort_on_error())
            out = (None if self.out_dir is None
                   else stack.enter_context(rundir.hold(self.out_dir)))
            if out is not None:
                if (resume or self.resume) and not force and (out / FIT_FILE).exists():
                    return self._reuse(out, cells)
                if (out / FIT_FILE).exists() and not force:
                    raise OutputExistsError(f"{out / FIT_FILE} exists; resume to reuse it, or "
                                            "force to replace it")
            t0 = time.perf_counter()
            self.fitted = self._fit(cells, y)
            self.fit_seconds = time.perf_counter() - t0
            self.fitted["meta"] = {"fit_seconds": self.fit_seconds,
                                   "motifs_trained": self.motifs_trained}
            self.fit_start = "new"
            if out is not None:
                rundir.write_atomic(out / rundir.CONFIG, self.config.to_yaml())
                rundir.write_atomic(out / rundir.TRAIN_SET, json.dumps(
                    {"hashes": [c.hash for c in cells], "accuracies": y.tolist(),
                     "metric": self.config.metric, "metric_epochs": self.config.metric_epochs}))
                self._write(out / FIT_FILE)
        return self.summary()

    def _fit(self, cells, y: np.ndarray) -> dict:
        cfg = self.config
        fitted: dict = {"quantiles": np.sort(y).tolist(), "n": int(len(y)),
                        "train_hashes": [c.hash for c in cells]}
        if len(y) < MIN_CELLS:
            lp = _log10_params(cells)
            coef = (np.polyfit(lp, y, 1) if len(y) >= 2 and np.ptp(lp) > 0
                    else np.array([0.0, float(y.mean()) if len(y) else 0.0]))
            fitted["fallback"] = [float(coef[0]), float(coef[1])]
            self._models = []
            return fitted
        graph_rows = None  # the entries the graph networks train on (None: all)
        if cfg.isomorphs > 1:  # every copy labelled with its cell's accuracy
            copies, owner, at = with_copies(cells, cfg.isomorphs, cfg.space)
            cells, y = [copies[j] for j in at], y[owner]  # one entry per (cell, copy)
            fitted["isomorph_cells"] = len(cells)
            if 0 < cfg.isomorphs_graph < cfg.isomorphs:  # each cell's first copies only
                first = np.searchsorted(owner, owner)  # owner is sorted: a cell's entries
                graph_rows = np.flatnonzero(np.arange(len(owner)) - first < cfg.isomorphs_graph)
                fitted["isomorph_graph_cells"] = int(len(graph_rows))
        t0 = time.perf_counter()
        learners = [s for s in self.sources if s.learns]
        if learners:  # sources that learn see the others' columns first
            X0, n0 = feature_matrix([s for s in self.sources if not s.learns], cells)
            for s in learners:
                s.prepare(cells, y, X0, n0)
        X, names = self._matrix(cells, self._bar_update("fit"))
        fitted["feature_seconds"] = time.perf_counter() - t0
        models = [MODELS[m](cfg) for m in cfg.models]
        warm = self._warm if cfg.warm_start else None
        g = slice(None) if graph_rows is None else graph_rows
        gcells = cells if graph_rows is None else [cells[i] for i in graph_rows]
        gy = y[g]
        for m in models:
            if isinstance(m, GraphNetworks):
                m.fit(gcells, X[g], names, gy, cfg.seed, warm=warm)
            else:
                m.fit(cells, X, names, y, cfg.seed)
        if cfg.self_training:
            from .self_training import self_train
            fitted["self_training"] = self_train(
                models, self.sources, cells, y, X, cfg.seed, cfg.self_training,
                rounds=cfg.self_training_rounds, tree_weight=cfg.self_training_trees,
                space=cfg.space, warm=warm, graph_train=(gcells, gy))
        if warm is not None:  # the next refit's networks start from these
            graph = next((m for m in models if isinstance(m, GraphNetworks)), None)
            if graph is not None:
                fitted["warm_start"] = "graph" in warm
                warm["graph"] = graph.model["members"]
        self._models = models
        fitted["features"] = names
        return fitted

    def query(self, xtest: Sequence[Any], info=None,
              progress: Callable[[int], object] | None = None) -> np.ndarray:
        """Predicted accuracies, float64, one per architecture (higher = better)."""
        self._check_ss()
        if self.fitted is None:
            raise NotFittedError("the ranker is not fitted yet: call fit() first, or load() a "
                                 "saved one")
        cells = as_cells(xtest, self.config.space, self.table)
        t0 = time.perf_counter()
        q = np.asarray(self.fitted["quantiles"], np.float64)
        if "fallback" in self.fitted:
            a, b = self.fitted["fallback"]
            self.last_results = None
            out = a * _log10_params(cells) + b
        else:
            k = self.config.isomorphs
            scored = cells
            if k > 1:  # each cell's copies scored once, however many cells share them
                scored, owner, at = with_copies(cells, k, self.config.space)
            with self._abort_on_error():
                X, _ = self._matrix(scored, progress or self._bar_update("query"))
            w = [self.config.model_weights.get(m.name, 1.0) for m in self._models]
            r = sum(wi * m.rank(scored, X) for wi, m in zip(w, self._models)) / sum(w)
            if k > 1:  # each cell: the mean over its copies
                n = len(cells)
                r = np.bincount(owner, r[at], n) / np.bincount(owner, None, n)
            out = np.interp(r, np.linspace(0.0, 1.0, len(q)), q)
        self.last_query_seconds_per_arch = (time.perf_counter() - t0) / max(1, len(cells))
        return np.asarray(out, dtype=np.float64)

    def _bar_update(self, desc: str):
        """A progress callback for motif training when ``progress`` is on, else None."""
        if not (self.progress and self.trains_motifs):
            return None
        from tqdm.auto import tqdm

        bar = tqdm(desc=desc, unit="motif")
        return bar.update

    # -- records ----------------------------------------------------------------------
    def summary(self) -> dict:
        """What was fitted: the models, the features, the most important ones."""
        f = self._require()
        out = {"kind": "ranker", "n": f["n"], "description": self.describe()}
        if "fallback" in f:
            return {**out, "fallback": f["fallback"]}
        trees = next((m for m in self._models if m.name == "trees"), None)
        out.update(features=len(f["features"]),
                   importance=getattr(trees, "importance", {}) if trees else {})
        if "self_training" in f:
            out["self_training"] = f["self_training"]
        return out

    def describe(self) -> str:
        f = self._require()
        if "fallback" in f:
            return f"log-params line (only {f['n']} training cells)"
        st = (f" (self-trained on {f['self_training']['unlabelled']} unlabelled cells)"
              if "self_training" in f else "")
        return (" + ".join(m.describe() for m in self._models) + st
                + f" on {'+'.join(self.config.features)}, {f['n']} cells")

    def digest(self) -> str:
        """Identity of the fitted model, for query checkpoints."""
        return hashlib.sha1(json.dumps(self._payload(), sort_keys=True).encode()).hexdigest()

    def _require(self) -> dict:
        if self.fitted is None:
            raise NotFittedError("the ranker is not fitted yet: call fit() first")
        return self.fitted

    # -- persistence --------------------------------------------------------------------
    def _payload(self) -> dict:
        f = self._require()
        return {"format": FORMAT, "format_version": FORMAT_VERSION,
                "package_version": __version__, "config": self.config.to_dict(),
                "fitted": f, "models": {m.name: m.state() for m in self._models},
                "sources": {s.name: s.state() for s in self.sources if s.learns}}

    def _write(self, path: Path) -> None:
        rundir.write_atomic(path, json.dumps(self._payload()))

    def save(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write ``ranker.json`` into ``directory``; an existing one is replaced only with
        ``overwrite``."""
        self._require()
        d = Path(directory)
        if d.exists() and not d.is_dir():
            raise UsageError(f"{d} is a file; save() takes a directory to write ranker.json into")
        if (d / FIT_FILE).exists() and not overwrite:
            raise OutputExistsError(f"{d / FIT_FILE} exists; pass overwrite=True to replace it")
        d = rundir.ensure_dir(d)
        self._write(d / FIT_FILE)
        return d / FIT_FILE

    @staticmethod
    def _read(directory) -> dict:
        path = Path(directory)
        if path.is_dir():
            path = path / FIT_FILE
        if not path.exists():
            raise DishFileError(f"ranker file not found: {path} (fit a ranker preset first)")
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DishFileError(f"{path}: not a ranker file of naslib-petridish, or a damaged "
                                f"one ({exc})") from exc
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DishFileError(f"{path}: not a naslib-petridish ranker file")
        if d.get("format_version") != FORMAT_VERSION:
            raise DishFileError(f"{path}: ranker format version {d.get('format_version')} was "
                                f"written by naslib-petridish {d.get('package_version', '?')}; "
                                f"this is {__version__}, which reads version {FORMAT_VERSION}")
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike, table=None, progress: bool = False,
             workers: int | None = None) -> "RankerPredictor":
        d = cls._read(directory)
        cfg = RankerConfig.from_dict(d["config"])
        if workers is not None:
            cfg = cfg.replace(workers=workers)
        p = cls(config=cfg, table=table, progress=progress)
        p._restore(d)
        return p

    def _restore(self, d: dict) -> None:
        self.fitted = d["fitted"]
        self._models = [MODELS[n].from_state(self.config, d["models"][n])
                        for n in self.config.models if n in d["models"]]
        for s in self.sources:
            if s.learns:
                s.restore(d.get("sources", {}).get(s.name, {}))
        self.fit_seconds = float(self.fitted.get("meta", {}).get("fit_seconds", float("nan")))

    def _reuse(self, out: Path, cells) -> dict:
        d = self._read(out)
        if RankerConfig.from_dict(d["config"]).replace(workers=0) != \
                self.config.replace(workers=0):
            raise RunDirError(f"{out} holds a ranker fitted with other settings; use another "
                              "out_dir, or fit with force=True to replace it")
        if d["fitted"].get("train_hashes") != [c.hash for c in cells]:
            raise RunDirError(f"{out} holds a ranker fitted on other training architectures; "
                              "use another out_dir, or fit with force=True to replace it")
        self._restore(d)
        self.fit_start = "reused"
        return self.summary()

    @classmethod
    def load_finished(cls, out: Path, cfg: RankerConfig, table=None, progress: bool = False
                      ) -> "RankerPredictor":
        """The ranker of the finished fit in ``out``, after checking that it was fitted with
        ``cfg``."""
        d = cls._read(out)
        if RankerConfig.from_dict(d["config"]).replace(workers=0) != cfg.replace(workers=0):
            raise RunDirError(f"cannot resume {out}: its ranker was fitted with another config, "
                              "so its training cells are not the ones asked for; use a new --out")
        return cls.load(out, table=table, progress=progress, workers=cfg.workers)

    # -- resources ----------------------------------------------------------------------
    def close(self, abort: bool = False) -> None:
        """Stop the worker processes of a source that trains motifs."""
        for s in self._sources or []:
            if s.trains_motifs:
                s.close(abort=abort)
            else:
                s.close()

    _unpicklable = "_sources"  # worker processes (NASLibContract.__getstate__)
