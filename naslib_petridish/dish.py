"""The synthetic dataset ("dish"): learnable images with fixed balanced labels.

Section 3.3 of the paper: 200 images of 3 x 16 x 16, initialized randomly,
each assigned one of 10 classes with CIFAR-10's class balance (20 per class).
With ``dish_val_size > 0`` (not the paper) the dish has a second, balanced part
after the first ``dish_size`` images: motifs train on the first part and are
scored on the second.  A dish file (``dish.pt``) holds the images, labels, the full config, the
package version, the fit history and the score -> accuracy calibration.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import __version__
from .config import LEGACY_FIELDS, PetriDishConfig
from .errors import DishFileError

DISH_FORMAT = "naslib-petridish-dish"
DISH_FORMAT_VERSION = 1


def balanced_labels(size: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """``size / num_classes`` images per class, in a random order."""
    labels = np.repeat(np.arange(num_classes), size // num_classes)
    return rng.permutation(labels).astype(np.int64)


def init_images(cfg: PetriDishConfig, rng: np.random.Generator) -> np.ndarray:
    """Standard-normal pixels (the scale of normalized CIFAR-10 inputs)."""
    return rng.standard_normal(
        (cfg.dish_size + cfg.dish_val_size, cfg.dish_channels, cfg.dish_resolution,
         cfg.dish_resolution)
    ).astype(np.float32)


@dataclass
class Dish:
    images: torch.Tensor  # float32 [N, C, H, W]
    labels: torch.Tensor  # int64 [N]
    config: PetriDishConfig
    history: list = field(default_factory=list)
    #: linear map score -> accuracy fitted at the end of ``fit`` (slope, intercept)
    calibration: dict | None = None
    #: run facts (fit time, ...)
    meta: dict = field(default_factory=dict)
    version: str = __version__

    @classmethod
    def create(cls, cfg: PetriDishConfig) -> "Dish":
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0xD15]))
        labels = balanced_labels(cfg.dish_size, cfg.num_classes, rng)
        images = init_images(cfg, rng)
        if cfg.dish_val_size:  # a separate, balanced validation part after the training part
            labels = np.concatenate([labels, balanced_labels(cfg.dish_val_size, cfg.num_classes,
                                                             rng)])
        return cls(torch.from_numpy(images), torch.from_numpy(labels), cfg)

    def save(self, path: str | os.PathLike) -> None:
        tmp = f"{os.fspath(path)}.tmp"
        torch.save({
            "format": DISH_FORMAT, "format_version": DISH_FORMAT_VERSION,
            "package_version": self.version,
            "images": self.images.detach().cpu().clone(), "labels": self.labels.cpu().clone(),
            "config": self.config.to_dict(), "history": self.history,
            "calibration": self.calibration, "meta": self.meta,
        }, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Dish":
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "dish.pt")
        if not os.path.exists(path):
            raise DishFileError(f"dish file not found: {path} (run 'naslib-petridish fit' first)")
        try:
            d: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise DishFileError(f"{path}: not a dish file of naslib-petridish, or a damaged one "
                                f"({type(exc).__name__} while reading it)") from exc
        if not isinstance(d, dict) or d.get("format") != DISH_FORMAT:
            raise DishFileError(f"{path}: not a naslib-petridish dish file")
        fv = d.get("format_version")
        if fv != DISH_FORMAT_VERSION:
            raise DishFileError(
                f"{path}: dish format version {fv} was written by naslib-petridish "
                f"{d.get('package_version', '?')}; this is {__version__}, which reads version "
                f"{DISH_FORMAT_VERSION}. Use the version that wrote it, or fit the dish again")
        cfg = dict(d["config"])
        if cfg.get("calibration") == "boosted":
            raise DishFileError(
                f"{path} holds a ranking model fitted by naslib-petridish "
                f"{d.get('package_version', '?')} (calibration: boosted); since 0.5 that model "
                "is the ranker: fit it again with its preset (it is saved as ranker.json)")
        for k in LEGACY_FIELDS:  # fields of the calibration of versions < 0.5
            cfg.pop(k, None)
        return cls(images=d["images"], labels=d["labels"],
                   config=PetriDishConfig.from_dict(cfg), history=list(d["history"]),
                   calibration=d.get("calibration"), meta=dict(d.get("meta") or {}),
                   version=d.get("package_version", "?"))
