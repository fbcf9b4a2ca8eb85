"""Config plumbing shared by the dish's and the ranker's settings: fields, overrides, space.

Neither kind of config imports the other: both take their field checks, ``key=value``
overrides and the space/data set/epoch-budget rules from here.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from .errors import ConfigError


def check_space(cfg) -> None:
    """Normalize and check ``space``, ``dataset`` and ``metric_epochs`` of a config (the
    dish's or the ranker's): ``metric_epochs`` None becomes the space's final budget."""
    from .spaces import EPOCHS, FINAL_EPOCHS, space_name
    from .errors import UsageError

    try:
        cfg.space = space_name(cfg.space)
    except UsageError as exc:
        raise ConfigError(str(exc)) from exc
    if not isinstance(cfg.dataset, str):
        raise ConfigError(f"'dataset' must be a data set name such as cifar10, got "
                          f"{cfg.dataset!r}")
    if cfg.metric_epochs is None:
        cfg.metric_epochs = FINAL_EPOCHS[cfg.space]
    if cfg.metric_epochs not in EPOCHS[cfg.space]:
        raise ConfigError(f"metric_epochs must be one of {EPOCHS[cfg.space]} on {cfg.space}, "
                          f"got {cfg.metric_epochs!r}")


def with_space(cfg, space: str, dataset: str = ""):
    """``cfg`` (the dish's or the ranker's) moved to another space: the epoch budget that
    was the old space's final one becomes the new space's final one."""
    from .spaces import FINAL_EPOCHS, space_name

    space = space_name(space)
    epochs = cfg.metric_epochs
    if epochs == FINAL_EPOCHS[cfg.space]:
        epochs = FINAL_EPOCHS[space]
    return cfg.replace(space=space, dataset=dataset or "", metric_epochs=epochs)


def from_fields(cls, d: dict, what: str):
    """``cls(**d)`` for a config dataclass, with a one-line :class:`ConfigError` naming
    unknown fields (and the known ones) or a field of the wrong kind."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"unknown {what} field(s) {unknown}; known fields: "
                          f"{', '.join(sorted(known))}")
    try:
        return cls(**d)
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc


def parse_override(item: str) -> tuple[str, Any]:
    """``key=value`` with a YAML value (``inner_epochs=16``, ``motif=B``,
    ``motif={num_stacks: 2, cells_per_stack: 1, stem_channels: 8}``)."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key=value")
    k, v = item.split("=", 1)
    k = k.strip()
    try:
        val = yaml.safe_load(v) if v.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override '{item}': cannot parse value ({exc})") from exc
    return k, val
