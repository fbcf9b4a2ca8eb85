"""Configuration of a Synthetic Petri Dish run, and the shipped dish presets.

:class:`PetriDishConfig` holds every setting of the dish, the inner loop and
the outer loop.  Its defaults are the paper's settings (Section 4); the dish
presets in ``naslib_petridish/presets/dish/*.yaml`` pick the motif and inner-loop
length of each experiment.  Any field can be overridden from a user YAML file
or ``key=value`` pairs (:func:`resolve_config`), and a resolved config is
saved with every run so that it can be reproduced exactly.  (The ranking model's
settings are :class:`naslib_petridish.ranker.config.RankerConfig`.)
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import torch
import yaml

from . import presetfiles
from .errors import ConfigError
from .fields import check_space, from_fields, parse_override  # noqa: F401 (re-exported)
from .motifs import MOTIFS, MotifShape, motif_shape


#: Outer-loop losses (see ``naslib_petridish.outer.outer_loss``): the paper's
#: ``1 - |Pearson|`` and the variants of the ranking study (benchmarks/ranking.py).
LOSSES = ("pearson_abs", "pearson", "mse", "pairwise")
SCORE_MODES = ("eval", "train")
SCORES = ("zhat", "tse")
INNER_OPTIMIZERS = ("flat", "torch")
INNER_COMPILE = ("none", "adam", "blocks")
#: score -> accuracy maps fitted at the end of ``fit`` (see ``naslib_petridish.calibration``)
CALIBRATIONS = ("linear", "linear_params")
#: fields of configs written before 0.5, when the ranking model was a calibration of the dish
#: (``calibration: boosted``); a dish file that still has them is read without them
LEGACY_FIELDS = ("calibration_features", "calibration_graph_members",
                 "calibration_self_training", "extra")


@dataclass
class PetriDishConfig:
    # motif network (Section 3.2): "A", "B", "C" or a dict of MotifShape fields
    motif: Any = "C"
    bn_momentum: float = 0.1
    # the dish (Section 3.3)
    dish_size: int = 200
    dish_resolution: int = 16
    dish_channels: int = 3
    num_classes: int = 10
    #: extra images scored but never trained on (0 = the paper: train and score on the
    #: same 200 images); they only receive gradient through the score
    dish_val_size: int = 0
    # inner loop (Section 4): Adam, lr 5e-5, weight decay 1e-6, batch 20, CE, 100 epochs
    inner_epochs: int = 100
    inner_lr: float = 5e-5
    inner_weight_decay: float = 1e-6
    inner_batch_size: int = 20
    # outer loop (Sections 3.5, 4): 6 motifs per epoch, Adam lr 1e-2, no wd, 170 epochs
    outer_epochs: int = 170
    outer_batch: int = 6
    outer_lr: float = 1e-2
    outer_weight_decay: float = 0.0
    loss: str = "pearson_abs"
    #: temperature of the pairwise logistic loss, on standardized scores
    pairwise_temperature: float = 0.5
    #: inner-loop optimizer steps differentiated through (truncated meta-gradient);
    #: 0 = the paper: gradient through the final forward pass only
    meta_steps: int = 0
    #: what is read off a trained motif: "zhat" (the paper: mean softmax probability of
    #: the true class after training) or "tse" (minus the mean training loss over the
    #: inner loop: training speed, Ru et al. 2021)
    score: str = "zhat"
    #: batch norm mode when the trained motif is scored on the dish
    score_mode: str = "eval"
    #: search space of the cells (``nb101``, ``nb201``; naslib_petridish.spaces) and the
    #: data set of its ground truth ("" = the space's only or first one)
    space: str = "nb101"
    dataset: str = ""
    # ground truth: 108-epoch validation accuracy (Section 3.1)
    metric: str = "val"
    #: epoch budget of the ground truth (None: the space's final one, 108 on NB101)
    metric_epochs: Any = None
    #: size of the training pool the CLI draws (6 x 170 in the paper)
    train_size: int = 1020
    #: training architectures re-scored on the final dish for the score -> accuracy fit
    calibration_size: int = 24
    #: score -> accuracy map: "linear" in z^, or "linear_params" in z^ and
    #: log10(parameter count of the full network) (a hybrid; not the paper)
    calibration: str = "linear"
    seed: int = 0
    #: worker processes for motif training (0 = one per CPU core)
    workers: int = 0
    #: where motifs train: "process" (local worker processes) or "ray" (a Ray cluster)
    backend: str = "process"
    #: Ray cluster address for backend "ray" (None: start a local Ray instance)
    ray_address: Any = None
    #: tensor layout of motif training: channels_last (fast) or contiguous (NCHW)
    memory_format: str = "channels_last"
    #: the inner loop's Adam: "flat" (one update over all parameters at once,
    #: naslib_petridish.optim.FlatAdam: fast) or "torch" (torch.optim.Adam, tensor by
    #: tensor); equal within float rounding
    inner_optimizer: str = "flat"
    #: compiled inner-loop blocks (naslib_petridish.compiled; TorchInductor, compiled once
    #: per process and reused for every architecture): "none" (eager), "adam" (the flat
    #: Adam step, motifs of 50k+ parameters) or "blocks" (that and batch norm + ReLU on
    #: 16x16 maps); eager with a one-line warning where no C++ compiler is found; equal to
    #: eager within float rounding
    inner_compile: str = "none"
    #: torch device motifs train on: "cpu", "cuda", "cuda:1", "mps" (weights are always
    #: initialized on the CPU, so a seed gives the same initial motif on every device)
    device: str = "cpu"
    #: preset the config started from (informational)
    preset: str = "default"

    # -- validation ----------------------------------------------------------
    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        def pos_int(name):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"'{name}' must be a positive integer, got {v!r}")

        for n in ("dish_size", "dish_resolution", "dish_channels", "num_classes", "inner_epochs",
                  "inner_batch_size", "outer_epochs", "outer_batch", "train_size"):
            pos_int(n)
        check_space(self)
        for n in ("inner_lr", "inner_weight_decay", "outer_lr", "outer_weight_decay",
                  "bn_momentum"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"'{n}' must be a non-negative number, got {v!r}")
            setattr(self, n, float(v))
        for n in ("calibration_size", "seed", "workers", "dish_val_size", "meta_steps"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"'{n}' must be a non-negative integer, got {v!r}")
        if self.dish_size % self.num_classes:
            raise ConfigError(
                f"dish_size ({self.dish_size}) must be a multiple of num_classes "
                f"({self.num_classes}) to keep the classes balanced")
        if self.dish_val_size % self.num_classes:
            raise ConfigError(
                f"dish_val_size ({self.dish_val_size}) must be a multiple of num_classes "
                f"({self.num_classes}) to keep the classes balanced")
        steps = self.inner_epochs * -(-self.dish_size // self.inner_batch_size)
        if self.meta_steps > steps:
            raise ConfigError(f"meta_steps ({self.meta_steps}) exceeds the {steps} optimizer "
                              "steps of the inner loop (inner_epochs x dish_size / batch)")
        if self.calibration == "boosted":
            raise ConfigError("'calibration: boosted' is the ranking model since version 0.5: "
                              "use a ranker preset (cell-features-boosted, dish-curve-boosted, "
                              "...) or naslib_petridish.ranker.RankerPredictor")
        if self.calibration not in CALIBRATIONS:
            raise ConfigError(f"unknown calibration '{self.calibration}'; available: "
                              f"{', '.join(CALIBRATIONS)}")
        v = self.pairwise_temperature
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ConfigError(f"'pairwise_temperature' must be a positive number, got {v!r}")
        self.pairwise_temperature = float(v)
        if self.outer_batch < 3:
            raise ConfigError("outer_batch must be at least 3 (a correlation needs several motifs)")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss '{self.loss}'; available: {', '.join(LOSSES)}")
        if self.score not in SCORES:
            raise ConfigError(f"score must be one of {SCORES}, got '{self.score}'")
        if self.score_mode not in SCORE_MODES:
            raise ConfigError(f"score_mode must be one of {SCORE_MODES}, got '{self.score_mode}'")
        if self.backend not in ("process", "ray"):
            raise ConfigError(f"backend must be 'process' or 'ray', got '{self.backend}'")
        if self.memory_format not in ("channels_last", "contiguous"):
            raise ConfigError("memory_format must be 'channels_last' or 'contiguous', got "
                              f"'{self.memory_format}'")
        if self.inner_optimizer not in INNER_OPTIMIZERS:
            raise ConfigError(f"inner_optimizer must be one of {', '.join(INNER_OPTIMIZERS)}, "
                              f"got '{self.inner_optimizer}'")
        if self.inner_compile not in INNER_COMPILE:
            raise ConfigError(f"inner_compile must be one of {', '.join(INNER_COMPILE)}, "
                              f"got '{self.inner_compile}'")
        if not isinstance(self.device, str):
            raise ConfigError("device must be a string such as 'cpu' or 'cuda', got "
                              f"{self.device!r}")
        try:
            torch.device(self.device)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(f"device '{self.device}' is not a torch device; use 'cpu', "
                              "'cuda', 'cuda:N' or 'mps'") from exc
        if str(self.metric).lower() not in ("val", "test"):
            raise ConfigError(f"metric must be 'val' or 'test', got '{self.metric}'")
        self.metric = str(self.metric).lower()
        try:
            shape = self.shape
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if shape.in_channels != self.dish_channels or shape.num_classes != self.num_classes:
            raise ConfigError("the motif's in_channels/num_classes must match dish_channels/"
                              "num_classes")

    @property
    def shape(self) -> MotifShape:
        m = self.motif
        if isinstance(m, str):
            if self.space != "nb101":
                from .spaces import get_space
                base = get_space(self.space).motif_shape(m)
            else:
                base = motif_shape(m)
            return dataclasses.replace(base, in_channels=self.dish_channels,
                                       num_classes=self.num_classes)
        if isinstance(m, dict):
            return motif_shape({"in_channels": self.dish_channels,
                                "num_classes": self.num_classes, **m})
        return motif_shape(m)

    # -- (de)serialization -----------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if isinstance(self.motif, MotifShape):
            d["motif"] = self.motif.as_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PetriDishConfig":
        return from_fields(cls, d, "config")

    def replace(self, **changes) -> "PetriDishConfig":
        return PetriDishConfig.from_dict({**self.to_dict(), **changes})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def preset_names() -> list[str]:
    """The shipped dish presets."""
    return presetfiles.preset_names("dish")


def load_preset(name: str) -> dict:
    """The fields of dish preset ``name`` (unknown and duplicate keys are errors naming the
    preset file and line)."""
    data, lines, source = presetfiles.read_preset(name, "dish")
    presetfiles.check_fields(data, lines, source, _FIELDS, "dish")
    data.setdefault("preset", name)
    return data


def load_yaml_file(path: str | os.PathLike) -> dict:
    """The fields of a user's YAML config file (unknown and duplicate keys are errors naming
    the file and line)."""
    data, lines = presetfiles.read_file(path)
    presetfiles.check_fields(data, lines, os.fspath(path), _FIELDS, "dish",
                             hint=" (ranker fields need a ranker preset: --preset "
                                  "cell-features-boosted, ...)")
    return data


def resolve_config(preset: str | None = None, config_file: str | None = None,
                   overrides: list[str] | dict | None = None, **explicit) -> PetriDishConfig:
    """Preset, then user YAML file, then overrides, then explicit keywords
    that are not ``None`` (later wins)."""
    d: dict = {}
    if preset:
        d.update(load_preset(preset))
    if config_file:
        d.update(load_yaml_file(config_file))
    if isinstance(overrides, dict):
        d.update(overrides)
    elif overrides:
        d.update(dict(parse_override(o) for o in overrides))
    d.update({k: v for k, v in explicit.items() if v is not None})
    return PetriDishConfig.from_dict(d)


_FIELDS = tuple(f.name for f in dataclasses.fields(PetriDishConfig))

__all__ = ["ConfigError", "PetriDishConfig", "resolve_config", "load_preset", "preset_names",
           "MOTIFS"]
