"""Feature sources of the ranker: each turns cells into columns, registered by name.

A source is a class with a ``name``, built from the :class:`~.config.RankerConfig`, whose
``columns(cells)`` returns a float matrix (one row per cell) and the column names.  The
ranker stacks the columns of ``config.features`` in that order.  Four ship:

* ``encoding`` - adjacency + one-hot operations (White et al.'s ``adjacency_one_hot``);
* ``path`` - counts of input-to-output paths by operation sequence (364 columns);
* ``free`` - parameter count, depth, operation and path counts, what feeds the output;
* ``dish`` - each cell's motif trained on a dish (the seeded initial dish of
  ``config.dish``, or the fitted one of ``config.dish_file``): its per-epoch training loss
  and accuracy, training speed, mean accuracy and loss drop.  The motifs are trained by the
  dish code (:func:`naslib_petridish.outer.score_cells`), which knows nothing of the ranker.
* ``metadish`` - the learning curve on a dish the ranker trains itself at ``fit`` by the
  full meta-gradient (:mod:`naslib_petridish.metadish`, settings ``config.metadish``), for
  the training accuracies or, with ``metadish_target: residual``, for what the other
  sources' trees get wrong (their out-of-fold rank residual): such a source *learns*, so
  the ranker calls its ``prepare`` with the training cells, their accuracies and the other
  sources' columns before any ``columns`` call, and keeps its ``state()`` in ranker.json.

A new source is one class::

    from naslib_petridish.ranker.sources import FeatureSource, register_source

    @register_source
    class Depth(FeatureSource):
        name = "depth"

        def columns(self, cells):
            x = np.array([[len(c.ops)] for c in cells], float)
            return x, ["vertex_count"]

after which ``features: [depth, free]`` is a valid ranker config.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..cells import Cell
from ..errors import ConfigError
from ..spaces import get_space

#: name -> source class
SOURCES: dict[str, type["FeatureSource"]] = {}

#: the dish of the ``dish`` source unless ``dish`` says otherwise: the seeded initial dish
#: (the outer loop is not run: ``outer_lr`` 0), motif C for 5 inner epochs
DISH_DEFAULTS = {"motif": "C", "inner_epochs": 5, "outer_epochs": 1, "outer_lr": 0.0,
                 "score": "tse"}


def dish_config(cfg):
    """The dish settings of the ``dish`` source of a :class:`~.config.RankerConfig`: its
    ``dish`` section over ``DISH_DEFAULTS`` (its seed, workers and space are the ranker's)."""
    from ..config import PetriDishConfig

    bad = {"seed", "workers"} & set(cfg.dish)
    if bad:
        raise ConfigError(f"'dish' may not set {sorted(bad)}: the ranker's own "
                          f"{' and '.join(sorted(bad))} apply to its dish")
    try:
        return PetriDishConfig.from_dict({**DISH_DEFAULTS, **cfg.dish, "seed": cfg.seed,
                                          "workers": cfg.workers, "space": cfg.space})
    except ConfigError as exc:
        raise ConfigError(f"'dish' section: {exc}") from exc


def metadish_config(cfg):
    """The settings of the ``metadish`` source (its seed is the ranker's)."""
    from ..metadish import MetaDishConfig

    if "seed" in cfg.metadish:
        raise ConfigError("'metadish' may not set 'seed': the ranker's seed applies")
    try:
        return MetaDishConfig.from_dict({**cfg.metadish, "seed": cfg.seed})
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"'metadish' section: {exc}") from exc


def register_source(cls: type["FeatureSource"]) -> type["FeatureSource"]:
    """Class decorator: make ``cls`` available as ``features: [cls.name]``."""
    SOURCES[cls.name] = cls
    return cls


class FeatureSource:
    """Columns of cells.  ``trains_motifs``: the columns come from training a motif per cell
    (seconds each; the ranker then reports motif results and uses worker processes)."""

    name = ""
    trains_motifs = False

    def __init__(self, config):
        self.config = config
        #: called with 1 per cell as a motif finishes (sources that train motifs)
        self.progress: Callable[[int], object] | None = None

    #: whether ``prepare`` learns from the training cells (then ``state``/``restore`` too)
    learns = False

    def columns(self, cells: Sequence[Cell]) -> tuple[np.ndarray, list[str]]:
        raise NotImplementedError

    def prepare(self, cells: Sequence[Cell], y: np.ndarray, X: np.ndarray,
                names: list[str]) -> None:
        """Learn from the training cells (``learns`` sources): their accuracies ``y`` and
        the columns ``X`` of the sources that do not learn."""

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        """Take back what ``state`` returned (a loaded ranker)."""

    def close(self) -> None:
        """Release what the source holds (worker processes)."""


class SpaceFeatures(FeatureSource):
    """Columns the search space computes (``space_method`` of the config's space): a pure
    function of each cell.  ``CACHE_ROWS`` > 0: each cell's row is computed once and kept,
    up to that many cells (for columns slower to compute than to look up: search scores
    every cell of NB201 each round)."""

    space_method = ""
    CACHE_ROWS = 0

    def __init__(self, config):
        super().__init__(config)
        self._index: dict[str, int] = {}   # cell hash -> row of _X
        self._X: np.ndarray | None = None
        self._names: list[str] | None = None

    def _compute(self, cells):
        return getattr(get_space(getattr(self.config, "space", "nb101")),
                       self.space_method)(cells)

    def columns(self, cells):
        if not self.CACHE_ROWS:
            return self._compute(cells)
        todo = list({c.hash: c for c in cells if c.hash not in self._index}.values())
        room = self.CACHE_ROWS - len(self._index)
        if len(todo) > room:  # the cache is full: compute what it lacks, keep nothing new
            return self._compute(cells)
        if todo:
            x, names = self._compute(todo)
            if self._names is not None and names != self._names:  # not row-wise: no cache
                return self._compute(cells)
            self._names = list(names)
            x = np.asarray(x)
            start = len(self._index)
            self._index.update((c.hash, start + i) for i, c in enumerate(todo))
            self._X = x.copy() if self._X is None else np.concatenate([self._X, x])
        if self._X is None:  # no cell asked for yet
            return self._compute(cells)
        return self._X[[self._index[c.hash] for c in cells]], list(self._names)


@register_source
class Encoding(SpaceFeatures):
    name = "encoding"
    space_method = "encoding"


@register_source
class PathEncoding(SpaceFeatures):
    name = "path"
    space_method = "path_encoding"


@register_source
class FreeFeatures(SpaceFeatures):
    name = "free"
    space_method = "free_features"
    #: NB201: 2.5 s for the 15,625 cells, 0.16 s to look them up (benchmarks NB201.md)
    CACHE_ROWS = 50_000


@register_source
class DishCurve(FeatureSource):
    """The learning curve of each cell's motif on a dish (trained by the dish code; a
    cell's motif is seeded by the run seed and its hash, so its curve does not depend on
    the batch, the order or the worker count, and is trained once per source)."""

    name = "dish"
    trains_motifs = True

    def __init__(self, config):
        super().__init__(config)
        self._dish = None
        self._runner = None
        self._results: dict = {}
        #: motifs this source trained
        self.motifs_trained = 0
        #: the motif results of the last ``columns`` call, in its cells' order
        self.last_results: list = []

    @property
    def dish(self):
        from ..dish import Dish

        if self._dish is None:
            cfg = self.config.dish_config()
            if self.config.dish_file is None:
                self._dish = Dish.create(cfg)
            else:  # a fitted dish, trained with the ranker's motif settings
                self._dish = Dish.load(self.config.dish_file)
                self._dish.config = cfg
        return self._dish

    def preload(self, results: dict) -> None:
        """Use these motif results (by cell hash; anything with ``losses`` and ``accs`` per
        epoch) instead of training those cells' motifs: curves computed earlier, e.g. a
        benchmark's cache of the same dish and seeds."""
        self._results.update(results)

    def results(self, cells: Sequence[Cell]) -> list:
        """One :class:`~naslib_petridish.inner.MotifResult` per cell."""
        from ..outer import score_cells
        from ..runner import MotifRunner

        todo = list({c.hash: c for c in cells if c.hash not in self._results}.values())
        if todo:
            if self._runner is None:
                cfg = self.dish.config
                self._runner = MotifRunner(cfg.workers, cfg.backend, cfg.ray_address,
                                           cfg.device).__enter__()
            for c, r in zip(todo, score_cells(self.dish, todo, self._runner, self.progress)):
                self._results[c.hash] = r
            self.motifs_trained += len(todo)
        self.last_results = [self._results[c.hash] for c in cells]
        return self.last_results

    def columns(self, cells):
        return curve_features(self.results(cells))

    def close(self, abort: bool = False) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            runner.__exit__(KeyboardInterrupt if abort else None, None, None)


@register_source
class MetaDishCurve(FeatureSource):
    """The learning curve of each cell's motif on a dish trained at ``fit`` by the full
    meta-gradient (:func:`naslib_petridish.metadish.fit_metadish`).  ``outer_steps: 0`` in
    ``config.metadish`` gives the untrained dish of the same settings (the control)."""

    name = "metadish"
    trains_motifs = True
    learns = True

    def __init__(self, config):
        super().__init__(config)
        self.dish = None
        self._results: dict = {}
        self.motifs_trained = 0
        self.last_results: list = []

    def prepare(self, cells, y, X, names):
        from ..metadish import fit_metadish

        targets = (out_of_fold_residual(X, names, y, self.config.seed)
                   if self.config.metadish_target == "residual" else np.asarray(y, float))
        self.dish = fit_metadish(cells, targets, self.config.metadish_config())
        self._results = {}

    def results(self, cells):
        from ..metadish import curves

        if self.dish is None:
            raise ConfigError("the 'metadish' source has no dish: fit the ranker first")
        todo = list({c.hash: c for c in cells if c.hash not in self._results}.values())
        for c, r in zip(todo, curves(self.dish, todo, self.config.seed, self.progress)):
            self._results[c.hash] = r
        self.motifs_trained += len(todo)
        self.last_results = [self._results[c.hash] for c in cells]
        return self.last_results

    def columns(self, cells):
        from ..metadish import curve_features as meta_curve_features

        return meta_curve_features(self.results(cells))

    def state(self) -> dict:
        return {} if self.dish is None else self.dish.state()

    def close(self, abort: bool = False) -> None:
        """Nothing to release: the motifs train in this process."""

    def restore(self, state: dict) -> None:
        from ..metadish import MetaDish

        self.dish = MetaDish.from_state(state) if state else None
        self._results = {}


def out_of_fold_residual(X: np.ndarray, names: list[str], y: np.ndarray, seed: int,
                         folds: int = 5) -> np.ndarray:
    """What the ranker's trees on ``X`` get wrong about each training cell: its rank target
    minus the trees' prediction from the other folds (seeded folds; LightGBM as
    :mod:`.trees`)."""
    from .models import rank_target
    from .trees import train_trees

    t = rank_target(np.asarray(y, float))
    if X.shape[1] == 0:  # no other columns: nothing predicts the ranks
        return t - t.mean()
    out = np.zeros(len(t))
    fold = np.random.default_rng([seed, 0x00F]).permutation(len(t)) % folds
    for k in range(folds):
        tr, te = fold != k, fold == k
        if te.any() and tr.sum() >= 2:
            out[te] = t[te] - np.clip(train_trees(X[tr], names, t[tr], seed).predict(
                X[te], num_threads=1), 0.0, 1.0)
    return out


def curve_features(results) -> tuple[np.ndarray, list[str]]:
    """Per-epoch training loss and accuracy on the dish, minus the mean loss (training
    speed), the mean accuracy and the loss drop, from one MotifResult per cell."""
    results = list(results)
    if not results:
        return np.zeros((0, 0)), []
    e = len(results[0].losses)
    names = ([f"dish_loss_e{i + 1}" for i in range(e)] + [f"dish_acc_e{i + 1}" for i in range(e)]
             + ["dish_tse", "dish_acc_mean", "dish_loss_drop"])
    rows = []
    for r in results:
        loss, acc = np.asarray(r.losses, float), np.asarray(r.accs, float)
        rows.append(np.concatenate([loss, acc, [-loss.mean(), acc.mean(),
                                                loss[0] - loss[-1]]]))
    return np.array(rows, np.float64), names


def feature_matrix(sources: Sequence[FeatureSource], cells: Sequence[Cell]
                   ) -> tuple[np.ndarray, list[str]]:
    """The columns of every source, stacked in the sources' order."""
    blocks, names, owner = [], [], {}
    for src in sources:
        x, n = src.columns(cells)
        for c in n:
            if c in owner:
                raise ConfigError(f"feature sources '{owner[c]}' and '{src.name}' both name a "
                                  f"column '{c}': rename one")
            owner[c] = src.name
        blocks.append(x)
        names += n
    return np.column_stack(blocks) if blocks else np.zeros((len(cells), 0)), names
