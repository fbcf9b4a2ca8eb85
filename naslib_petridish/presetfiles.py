"""Preset and config files: find a shipped preset by name and kind, read YAML strictly.

Two kinds of presets ship with the package, each validated against its own config:

* ``dish`` presets (``presets/dish/*.yaml``): the Synthetic Petri Dish,
  :class:`naslib_petridish.config.PetriDishConfig`;
* ``ranker`` presets (``presets/ranker/*.yaml``): the ranking model,
  :class:`naslib_petridish.ranker.config.RankerConfig`.

:func:`read_mapping` reads a YAML mapping and refuses what plain ``yaml.safe_load`` lets
through silently: a key given twice (YAML keeps the later value) is an error naming the
file and both lines; :func:`check_fields` turns an unknown key into an error naming the file
and its line.  This module imports neither config class: both import it.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Iterable

import yaml

from .errors import ConfigError

KINDS = ("dish", "ranker")


class _StrictLoader(yaml.SafeLoader):
    """A safe loader whose mappings refuse duplicate keys."""

    source = "<string>"


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(f"{loader.source}:{line}: duplicate key '{key}' (first at line "
                              f"{seen[key]}); YAML would keep only the later value: remove one")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


def read_mapping(text: str, source: str) -> tuple[dict, dict[str, int]]:
    """The top-level mapping of YAML ``text`` and the line of each of its keys; ``source``
    (a file name) is named in every error."""
    loader = _StrictLoader(text)
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}
        if not isinstance(node, yaml.MappingNode):
            raise ConfigError(f"{source}: expected a mapping of config fields (key: value)")
        lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc})") from exc
    finally:
        loader.dispose()
    return dict(data), lines


def read_file(path: str | os.PathLike) -> tuple[dict, dict[str, int]]:
    """:func:`read_mapping` of a file (a missing file is a one-line error)."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    return read_mapping(Path(path).read_text(), os.fspath(path))


def check_fields(data: dict, lines: dict[str, int], source: str, known: Iterable[str],
                 kind: str, hint: str = "") -> None:
    """An unknown key of ``data`` is an error naming ``source`` and its line."""
    known = set(known)
    for key in data:
        if key not in known:
            raise ConfigError(f"{source}:{lines.get(str(key), '?')}: unknown field '{key}' for a "
                              f"{kind} config{hint}; known fields: {', '.join(sorted(known))}")


def _folder(kind: str):
    return resources.files("naslib_petridish").joinpath("presets", kind)


def preset_names(kind: str | None = None) -> list[str]:
    """Shipped presets of ``kind`` (both kinds when ``None``), sorted."""
    kinds = KINDS if kind is None else (kind,)
    return sorted(p.name[:-5] for k in kinds for p in _folder(k).iterdir()
                  if p.name.endswith(".yaml"))


def preset_kind(name: str) -> str:
    """``dish`` or ``ranker``: the kind of the shipped preset ``name``."""
    for kind in KINDS:
        if _folder(kind).joinpath(f"{name}.yaml").is_file():
            return kind
    raise ConfigError(f"unknown preset '{name}'; available: {', '.join(preset_names())}")


def read_preset(name: str, kind: str) -> tuple[dict, dict[str, int], str]:
    """The fields of preset ``name`` of ``kind``, their lines and the file's name; a preset
    of the other kind is an error that says which class takes it."""
    path = _folder(kind).joinpath(f"{name}.yaml")
    if not path.is_file():
        other = preset_kind(name)  # raises for a name of no kind
        takes = ("naslib_petridish.ranker.RankerPredictor" if other == "ranker"
                 else "naslib_petridish.predictor.SyntheticPetriDishPredictor")
        raise ConfigError(f"'{name}' is a {other} preset, not a {kind} preset: use it with "
                          f"{takes} (the command line picks the right one by itself)")
    source = f"presets/{kind}/{name}.yaml"
    data, lines = read_mapping(path.read_text(), source)
    return data, lines, source
