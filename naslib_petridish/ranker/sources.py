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
from . import features as F

#: name -> source class
SOURCES: dict[str, type["FeatureSource"]] = {}


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

    def columns(self, cells: Sequence[Cell]) -> tuple[np.ndarray, list[str]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds (worker processes)."""


@register_source
class Encoding(FeatureSource):
    name = "encoding"

    def columns(self, cells):
        return F.encoding(cells)


@register_source
class PathEncoding(FeatureSource):
    name = "path"

    def columns(self, cells):
        return F.path_encoding(cells)


@register_source
class FreeFeatures(FeatureSource):
    name = "free"

    def columns(self, cells):
        return F.free_features(cells)


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
