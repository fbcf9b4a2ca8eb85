"""NASLib's predictor contract shared by the package's predictors (the hooks they answer).

Also the life cycle of their worker processes: stopped on an error or interruption, on
collection, and left out of a pickle.

NASLib's ``Predictor`` base class asks for ``fit``, ``query`` and a set of hooks its
evaluator and optimizers call (``get_data_reqs``, ``set_hyperparams``, ...).  The dish
(:class:`~naslib_petridish.predictor.SyntheticPetriDishPredictor`) and the ranker
(:class:`~naslib_petridish.ranker.RankerPredictor`) answer them alike; NASLib itself is not
needed here.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .fields import with_space
from .errors import InvalidAccuracyError, UsageError

NB101_SS_TYPES = ("nasbench101", "nb101", None)


def training_targets(ytrain, n_cells: int) -> np.ndarray:
    """``ytrain`` as float64 accuracies, one per architecture, checked: every value finite,
    none negative or above 100, one scale (fractions in [0, 1] or percent in [0, 100]; a
    percent set may hold chance-level values at or below 1, so only percent values among a
    majority of fractions are mixed).  Raises :class:`InvalidAccuracyError` naming the first
    offending entry and the fix."""
    try:
        y = np.asarray(ytrain, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"ytrain must be a sequence of accuracies ({exc})") from exc
    if len(y) != n_cells:
        raise UsageError(f"fit got {n_cells} architectures but {len(y)} accuracies")
    fix = "give accuracies as fractions in [0, 1] or as percent in [0, 100]"
    for bad, why in ((~np.isfinite(y), "is not a number: drop the architectures whose "
                      "accuracy is missing"),
                     (y < 0, "is negative: " + fix),
                     (y > 100, "is above 100: " + fix)):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidAccuracyError(f"training accuracy #{i} ({y[i]!r}) {why}")
    frac = y <= 1
    if frac.sum() * 2 > len(y) and not frac.all():
        i = int(np.flatnonzero(~frac)[0])
        raise InvalidAccuracyError(
            f"training accuracy #{i} ({y[i]!r}) is in percent but {int(frac.sum())} of the "
            f"{len(y)} accuracies are fractions (at most 1): mixed scales; {fix}, all alike")
    return y


class NASLibContract:
    """The hooks of NASLib's ``Predictor``; subclasses set ``config`` (with ``replace``),
    ``ss_type`` and ``hyperparams`` and define ``fit`` / ``query``."""

    #: what the predictor is called in errors and in metrics
    label = "predictor"
    hpo_wrapper = False
    encoding_type = None

    def set_ss_type(self, ss_type: str) -> None:
        """NASLib names its search space (``nasbench101``, ``nasbench201``): an unfitted
        predictor takes that space (its config's ``space``)."""
        self.ss_type = ss_type
        space = self._space_of_ss()
        fitted = getattr(self, "fitted", None) is not None or getattr(self, "dish", None) \
            is not None
        if space and space != self.config.space and not fitted:
            self.config = with_space(self.config, space)

    def pre_process(self) -> None:
        """Nothing to precompute before the search starts."""

    def pre_compute(self, xtrain=None, xtest=None, unlabeled=None) -> None:
        """Nothing to precompute per train/test split."""

    def get_data_reqs(self) -> dict:
        return {"requires_partial_lc": False, "metric": None, "requires_hyperparameters": False,
                "hyperparams": {}, "unlabeled": False, "unlabeled_factor": 0}

    def set_hyperparams(self, hyperparams: dict | None) -> None:
        self.hyperparams = hyperparams
        if hyperparams:
            self.config = self.config.replace(**hyperparams)

    def get_hyperparams(self) -> dict | None:
        return self.hyperparams

    def reset_hyperparams(self) -> None:
        self.hyperparams = None

    def get_hpo_wrapper(self) -> bool:
        return self.hpo_wrapper

    def requires_partial_training(self, xtest=None) -> bool:
        return False

    def set_random_hyperparams(self) -> dict | None:
        """NASLib's HPO hook; there is no search space of hyperparameters here."""
        return self.hyperparams

    def set_pre_computations(self, unlabeled=None, xtrain_zc_info=None, xtest_zc_info=None,
                             unlabeled_zc_info=None) -> None:
        """NASLib's ensemble hook for zero-cost/unlabeled inputs; not used."""

    def _setup(self, config, config_cls, resolve, preset, overrides, table, out_dir,
               progress, ss_type, resume) -> None:
        """What both predictors' constructors do: the config (an instance of
        ``config_cls``, a dict of its fields, or ``resolve(preset, overrides=...)``) and the
        run settings."""
        if isinstance(config, config_cls):
            self.config = config.replace(**overrides) if overrides else config
        elif isinstance(config, dict):
            self.config = config_cls.from_dict({**config, **overrides})
        else:
            self.config = resolve(preset, overrides=overrides)
        tspace = getattr(table, "space", "nb101") if table is not None else None
        if tspace and tspace != self.config.space:  # the ground truth names the space
            self.config = with_space(self.config, tspace, getattr(table, "dataset", ""))
        self.table, self.out_dir, self.resume = table, out_dir, resume
        self.progress, self.ss_type, self.hyperparams = progress, ss_type, None
        self.fit_seconds = float("nan")
        #: how the last fit began: "new", "resumed at epoch K" or "reused" (a finished fit)
        self.fit_start = ""
        self.last_query_seconds_per_arch = float("nan")

    # -- worker processes: subclasses define close(abort) and name what pickling drops ------
    _unpicklable = ""

    def close(self, abort: bool = False) -> None:
        """Stop the worker processes (none here)."""

    @contextlib.contextmanager
    def _abort_on_error(self):
        """Stop the workers at once when the work is interrupted or fails (Ctrl-C must
        not wait for the motifs in training; a fit resumes from its checkpoint)."""
        try:
            yield
        except BaseException:
            self.close(abort=True)
            raise

    def __del__(self):  # pragma: no cover - timing depends on the garbage collector
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._unpicklable:
            state[self._unpicklable] = None
        return state

    def _space_of_ss(self) -> str | None:
        from .spaces import space_name

        if self.ss_type is None:
            return None
        try:
            return space_name(self.ss_type)
        except UsageError:
            raise UsageError(f"the {self.label} predictor supports the search spaces "
                             f"nasbench101 and nasbench201, not '{self.ss_type}'") from None

    def _check_ss(self) -> None:
        space = self._space_of_ss()
        if space and space != self.config.space:
            raise UsageError(f"this {self.label} predictor works on {self.config.space} cells, "
                             f"but the search space is '{self.ss_type}': build it with "
                             f"space='{space}' (or call set_ss_type before fit)")
