"""Settings of the ranking model (:class:`RankerConfig`) and the shipped ranker presets.

A ranker is a list of feature sources (:mod:`.sources`: columns per cell, in that order),
a list of models (:mod:`.models`: each ranks cells on the training cells' scale; their
mean is the prediction), optional self-training of the graph networks on unlabelled cells
(:mod:`.self_training`), and the run's seed, ground truth and worker count.  The ``dish``
source (each cell's motif's learning curve on a dish) takes its settings from ``dish``:
fields of :class:`~naslib_petridish.config.PetriDishConfig` (motif, inner loop), and reads
the seeded initial dish, or the fitted dish of ``dish_file`` (a ``dish.pt`` or its run
directory).  Presets live in ``naslib_petridish/presets/ranker/*.yaml``.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from .. import presetfiles
from ..fields import check_space, from_fields, parse_override
from ..errors import ConfigError


#: the preset a ranker gets when none is named: the best measured (RANKING.md, NB201.md)
RECOMMENDED = "cell-features-self-trained"


@dataclass
class RankerConfig:
    #: feature sources, in column order (see ``naslib_petridish.ranker.sources.SOURCES``)
    features: list = field(default_factory=lambda: ["free", "path", "encoding"])
    #: models whose mean rank is the prediction (``naslib_petridish.ranker.models.MODELS``)
    models: list = field(default_factory=lambda: ["trees", "graph"])
    #: weight of each model in the mean of their ranks (a model not named weighs 1)
    model_weights: dict = field(default_factory=dict)
    #: graph networks of the ``graph`` model (members from different seeds, averaged)
    graph_members: int = 3
    #: message-passing layers of each graph network (each carries information one edge
    #: further; the longest input-output path of an NB101 cell has 6 edges)
    graph_layers: int = 3
    #: path attention after each layer: self-attention among the vertices on a common path
    #: (as in PINAT and NN-Former)
    graph_attention: bool = False
    #: self-train the graph networks on this many unlabelled random cells (0 = off)
    self_training: int = 0
    #: rounds of self-training (each round's students teach the next round)
    self_training_rounds: int = 1
    #: > 0: co-train the trees as well: each round refits them on the training cells and
    #: the teacher's order of the unlabelled cells, the training cells together weighing
    #: this many times the unlabelled ones (0: the trees see the training cells only)
    self_training_trees: float = 0.0
    #: refits continue from the previous fit in this process (search: one fit per round on
    #: a grown training set): the graph networks start from their last weights and train
    #: fewer epochs (``graph.WARM_EPOCHS``), self-training keeps its unlabelled cells and
    #: their features and continues its students (``graph.WARM_PRETRAIN_EPOCHS``); the first
    #: fit, and every fit with ``false``, is the full cold fit
    warm_start: bool = False
    #: > 1: use the space's isomorphic copies (``space.copies``: cells with the same
    #: canonical form compute the same function): each training cell joins the fit with up
    #: to this many of its copies, all labelled with its accuracy, and each queried cell is
    #: scored as the mean over up to this many of its copies.  No label is added; a no-op in
    #: a space without copies (NB101's tables hold one cell per function).  0 or 1: off
    isomorphs: int = 0
    #: copies per training cell that the graph networks train and fine-tune on (the cell
    #: first); 0: as many as ``isomorphs``.  Their pairwise loss grows with the square of
    #: the training entries, so fewer copies here keep the fit's time down while the trees
    #: still see every copy; queries average every model over ``isomorphs`` copies
    isomorphs_graph: int = 0
    #: settings of the ``dish`` source: PetriDishConfig fields over sources.DISH_DEFAULTS
    dish: dict = field(default_factory=dict)
    #: a fitted dish (``dish.pt`` or its run directory) for the ``dish`` source; None: the
    #: seeded initial dish of ``dish``'s settings
    dish_file: Any = None
    #: settings of the ``metadish`` source (MetaDishConfig fields; its seed is the ranker's)
    metadish: dict = field(default_factory=dict)
    #: what the ``metadish`` source's dish learns to rank: ``accuracy`` (the training
    #: accuracies) or ``residual`` (the other sources' trees' out-of-fold rank residual)
    metadish_target: str = "accuracy"
    seed: int = 0
    #: search space of the cells and the data set of its ground truth (as for the dish)
    space: str = "nb101"
    dataset: str = ""
    # ground truth the command line draws (as for the dish)
    metric: str = "test"
    #: None: the space's final epoch budget (108 on NB101, 200 on NB201)
    metric_epochs: Any = None
    train_size: int = 1020
    #: worker processes of the ``dish`` source's motifs (0 = one per CPU core)
    workers: int = 0
    #: preset the config started from (informational)
    preset: str = "default"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        from .models import MODELS
        from .sources import SOURCES

        for name, registry in (("features", SOURCES), ("models", MODELS)):
            v = getattr(self, name)
            if (isinstance(v, str) or not isinstance(v, (list, tuple)) or not v
                    or any(x not in registry for x in v)):
                raise ConfigError(f"'{name}' must be a non-empty list of "
                                  f"{', '.join(sorted(registry))}; got {v!r}")
            setattr(self, name, list(dict.fromkeys(v)))
        for n in ("graph_members", "self_training", "seed", "workers", "isomorphs",
                  "isomorphs_graph"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"'{n}' must be a non-negative integer, got {v!r}")
        for n in ("train_size", "graph_layers", "self_training_rounds"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"'{n}' must be a positive integer, got {v!r}")
        if not isinstance(self.warm_start, bool):
            raise ConfigError(f"'warm_start' must be true or false, got {self.warm_start!r}")
        if not isinstance(self.graph_attention, bool):
            raise ConfigError(f"'graph_attention' must be true or false, got "
                              f"{self.graph_attention!r}")
        mw = self.model_weights
        if not isinstance(mw, dict) or any(
                k not in self.models or isinstance(v, bool) or not isinstance(v, (int, float))
                or not 0 < v < float("inf") for k, v in mw.items()):
            raise ConfigError(f"'model_weights' must map models of 'models' "
                              f"({', '.join(self.models)}) to positive numbers, got {mw!r}")
        self.model_weights = {k: float(v) for k, v in mw.items()}
        if "graph" in self.models and not self.graph_members:
            raise ConfigError("the 'graph' model needs 'graph_members' > 0 (or leave 'graph' "
                              "out of 'models')")
        if self.self_training and "graph" not in self.models:
            raise ConfigError("'self_training' trains the graph networks: add 'graph' to "
                              "'models', or set 'self_training: 0'")
        w = self.self_training_trees
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < float("inf"):
            raise ConfigError(f"'self_training_trees' must be a non-negative number (the "
                              f"training cells' weight beside the unlabelled ones), got {w!r}")
        self.self_training_trees = float(w)
        if self.self_training_trees and not (self.self_training and "trees" in self.models):
            raise ConfigError("'self_training_trees' co-trains the trees during self-training: "
                              "it needs 'trees' in 'models' and 'self_training' > 0")
        if self.self_training_trees and any(SOURCES[f].trains_motifs for f in self.features):
            raise ConfigError("'self_training_trees' needs features that train no motif (the "
                              "unlabelled cells have no learning curve): drop "
                              + ", ".join(repr(f) for f in self.features
                                          if SOURCES[f].trains_motifs)
                              + " or set 'self_training_trees: 0'")
        if str(self.metric).lower() not in ("val", "test"):
            raise ConfigError(f"metric must be 'val' or 'test', got '{self.metric}'")
        self.metric = str(self.metric).lower()
        check_space(self)
        if not isinstance(self.dish, dict):
            raise ConfigError(f"'dish' must be a mapping of dish settings (motif, inner_epochs, "
                              f"...), got {self.dish!r}")
        if self.dish_file is not None and not isinstance(self.dish_file, (str, os.PathLike)):
            raise ConfigError(f"'dish_file' must be a path, got {self.dish_file!r}")
        if "dish" in self.features:
            self.dish_config()  # a bad dish setting is an error now, not after the features
        if self.metadish_target not in ("accuracy", "residual"):
            raise ConfigError(f"'metadish_target' must be 'accuracy' or 'residual', got "
                              f"{self.metadish_target!r}")
        if not isinstance(self.metadish, dict):
            raise ConfigError(f"'metadish' must be a mapping of MetaDishConfig fields, got "
                              f"{self.metadish!r}")
        if "metadish" in self.features:
            if self.space != "nb101":
                raise ConfigError(f"the 'metadish' source trains NB101 motifs only, not "
                                  f"{self.space}'s: drop it from 'features' (the 'dish' source "
                                  "works on every space)")
            self.metadish_config()

    def metadish_config(self):
        """The settings of the ``metadish`` source (its seed is the ranker's)."""
        from .sources import metadish_config
        return metadish_config(self)

    def dish_config(self):
        """The dish settings of the ``dish`` source (its seed and workers are the ranker's)."""
        from .sources import dish_config
        return dish_config(self)

    @property
    def trains_motifs(self) -> bool:
        """Whether a fit or query trains motifs (the ``dish`` source)."""
        from .sources import SOURCES

        return any(SOURCES[f].trains_motifs for f in self.features)

    # -- (de)serialization -----------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["dish_file"] is not None:
            d["dish_file"] = os.fspath(d["dish_file"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RankerConfig":
        return from_fields(cls, d, "ranker config")

    def replace(self, **changes) -> "RankerConfig":
        return RankerConfig.from_dict({**self.to_dict(), **changes})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


_FIELDS = tuple(f.name for f in dataclasses.fields(RankerConfig))


def preset_names() -> list[str]:
    """The shipped ranker presets."""
    return presetfiles.preset_names("ranker")


def load_preset(name: str) -> dict:
    """The fields of ranker preset ``name`` (unknown and duplicate keys are errors naming the
    preset file and line)."""
    data, lines, source = presetfiles.read_preset(name, "ranker")
    presetfiles.check_fields(data, lines, source, _FIELDS, "ranker")
    data.setdefault("preset", name)
    return data


def resolve_ranker_config(preset: str | None = RECOMMENDED,
                          config_file: str | None = None,
                          overrides: list[str] | dict | None = None,
                          **explicit) -> RankerConfig:
    """Preset, then user YAML file, then overrides, then explicit keywords that are not
    ``None`` (later wins), as :func:`naslib_petridish.config.resolve_config` for the dish.
    An override ``dish.FIELD`` sets one field of the ``dish`` section."""
    d: dict = {}
    if preset:
        d.update(load_preset(preset))
    if config_file:
        data, lines = presetfiles.read_file(config_file)
        presetfiles.check_fields(data, lines, os.fspath(config_file), _FIELDS, "ranker")
        d.update(data)
    over = dict(overrides) if isinstance(overrides, dict) else \
        dict(parse_override(o) for o in overrides or [])
    for k in [k for k in over if k.startswith("dish.")]:  # dish.inner_epochs=2: one field
        d["dish"] = {**d.get("dish", {}), k[len("dish."):]: over.pop(k)}
    d.update(over)
    d.update({k: v for k, v in explicit.items() if v is not None})
    return RankerConfig.from_dict(d)
