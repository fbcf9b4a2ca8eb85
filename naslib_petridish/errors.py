"""Every error this package raises on bad input, under one base class.

The command line catches :class:`PetriDishError` alone and prints its message
as one line; anything else is a bug and keeps its traceback.  Each class also
derives from the built-in exception a Python caller would expect
(``ValueError``, ``KeyError``, ``ImportError``, ...), so ``except ValueError``
in user code keeps working.  Errors raised while handling another exception
chain it (``raise ... from exc``), so the cause is one ``__cause__`` away.
"""
from __future__ import annotations


class PetriDishError(Exception):
    """Base class of every error of naslib-petridish."""


class UsageError(PetriDishError, ValueError):
    """Bad arguments (command line or API call)."""


class InvalidAccuracyError(UsageError):
    """Training accuracies that cannot be accuracies: not finite, negative, above 100, or
    percent values among a majority of fractions."""


class ConfigError(PetriDishError, ValueError):
    """A bad preset name, config file or override."""


class InvalidCellError(PetriDishError, ValueError):
    """A cell that is not a valid NAS-Bench-101 cell (or cannot be read as one)."""


class GroundTruthError(PetriDishError, ValueError):
    """A ground-truth file or query that cannot be answered."""


class TFRecordError(GroundTruthError):
    """A truncated or corrupted TFRecord file."""


class UnknownCellError(PetriDishError, KeyError):
    """A cell or hash that the ground-truth table does not contain."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0]) if self.args else ""


class DownloadError(PetriDishError, RuntimeError):
    """A download that failed or gave a corrupted file."""


class DishFileError(PetriDishError, ValueError):
    """A dish file that cannot be read by this version."""


class DeviceNotAvailable(PetriDishError, RuntimeError):
    """The configured torch device does not exist on this machine."""


class WorkerError(PetriDishError, RuntimeError):
    """A worker setting the machine cannot hold, or a worker process that died."""


class RunDirError(PetriDishError, ValueError):
    """A run directory that exists, is in use, or does not match the requested run."""


class RunLockedError(RunDirError):
    """A run directory that another live process is using."""


class OutputExistsError(PetriDishError, FileExistsError):
    """An output file that exists and must not be overwritten silently."""


class NotFittedError(PetriDishError, RuntimeError):
    """A predictor queried before it was fitted or loaded."""


class NASLibNotAvailable(PetriDishError, ImportError):
    """NASLib (an optional dependency) is missing or fails to import."""


class OptionalDependencyError(PetriDishError, ImportError):
    """An optional dependency (an extra) that is not installed."""


def one_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (library messages such as torch's
    unpickling advice run over many lines), shortened to ``limit`` characters."""
    text = (str(exc).strip().splitlines() or [""])[0].strip()
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def require(module: str, extra: str, what: str):
    """Import ``module`` or raise :class:`OptionalDependencyError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise OptionalDependencyError(
            f"{what} needs the '{module.split('.')[0]}' package: pip install "
            f"'naslib-petridish[{extra}]'") from exc


__all__ = ([name for name in dir() if name.endswith(("Error", "Available"))]
           + ["one_line", "require"])
