"""Search methods and budgets: which optimizer takes which predictor, and the epochs of a budget.

A :class:`SearchMethod` is an optimizer (``re``, ``rs``, ``ls``, ``bananas``, ``npenas``) with its
predictor, read from a search config by :func:`search_method`; :func:`epochs_for_budget`
gives the NASLib search epochs that spend a budget of ground-truth queries.  No NASLib
here: the optimizers that carry a method out are in :mod:`.search_optimizers`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..errors import ConfigError
from .predictors import PRESET_PREDICTORS

#: ``ls``: NASLib's local search (plain: the true accuracy); ``guided``: the package's
#: predictor-guided search (``naslib_petridish.guided``)
OPTIMIZERS = ("re", "rs", "ls", "bananas", "npenas", "guided")
#: the ``search.predictor_type`` values NASLib's Bananas/Npenas ensemble can build on
#: NB101 (naslib/predictors/ensemble.py; its omni_* types need zero-cost data loaders)
NASLIB_SURROGATES = ("bananas", "bayes_lin_reg", "bohamiann", "bonas", "dngo", "gcn", "gp",
                     "gpwl", "lgb", "mlp", "nao", "ngb", "rf", "seminas", "sparse_gp",
                     "var_sparse_gp", "xgb")
#: what else regularized evolution takes as its children's fitness (the dish's schedule:
#: :class:`~.search_optimizers.PredictorFitnessEvolutionMixin`): NASLib's predictors, and
#: as controls for the dish the parameter count and the training set's mean accuracy (no
#: information)
RE_FITNESS = ("mean", "params") + NASLIB_SURROGATES
#: what Bananas/Npenas take as their (single) surrogate besides the dish: the control
#: without information (the k "best" candidates are then a random k)
SURROGATE_CONTROLS = ("mean",)


@dataclass(frozen=True)
class SearchMethod:
    """An optimizer and its predictor: ``"none"`` (plain: RE and RS on the true
    accuracy), a dish preset (``petridish*``), a NASLib ``search.predictor_type``
    (Bananas/Npenas' own ensemble), or for RE any of :data:`RE_FITNESS` (the predictor
    scores the children, as the dish does:
    :class:`~.search_optimizers.PredictorFitnessEvolutionMixin`)."""

    optimizer: str
    predictor: str = "none"
    refit_every: int = 0
    refit_batch: int = 1
    #: whether a refit fits the dish again (False: it only evaluates the best-predicted)
    refit_predictor: bool = True

    @property
    def dish(self) -> bool:
        return self.predictor in PRESET_PREDICTORS

    @property
    def guided(self) -> bool:
        """Whether a predictor we build drives the optimizer (the dish's RE, Bananas or
        Npenas, or RE with any predictor as fitness), rather than NASLib's own code."""
        return (self.dish or self.predictor in SURROGATE_CONTROLS
                or (self.optimizer in ("re", "guided") and self.predictor != "none"))


def valid_predictors(optimizer: str) -> list[str]:
    """The predictor names ``optimizer`` takes."""
    dish = sorted(PRESET_PREDICTORS)
    return {"re": ["none"] + dish + list(RE_FITNESS), "rs": ["none"], "ls": ["none"],
            "bananas": dish + list(SURROGATE_CONTROLS) + list(NASLIB_SURROGATES),
            "npenas": dish + list(SURROGATE_CONTROLS) + list(NASLIB_SURROGATES),
            "guided": dish + list(RE_FITNESS)}[optimizer]


def _int_option(cfg: Mapping, key: str, default: int, minimum: int) -> int:
    """``cfg[key]`` (``default`` where absent) as an integer >= ``minimum``, else a
    :class:`ConfigError`."""
    raw = cfg.get(key, default)
    try:
        value = int(raw)
        if isinstance(raw, bool) or value != float(raw):
            raise ValueError(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {raw!r}")
    return value


def search_method(cfg: Mapping) -> SearchMethod:
    """The :class:`SearchMethod` of a search config (``optimizer``, ``predictor``,
    ``search.predictor_type``, ``petridish_refit_every``, ``petridish_refit_batch``,
    ``petridish_refit_predictor``), or a
    one-line :class:`ConfigError` naming the valid choices.

    ``predictor`` absent: plain for ``re``/``rs``, NASLib's ``search.predictor_type`` for
    Bananas/Npenas (as NASLib's own runner does); ``none`` is plain."""
    opt = str(cfg.get("optimizer", "re")).lower()
    if opt not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got '{opt}'")
    raw = cfg.get("predictor")
    if raw is None and opt in ("bananas", "npenas"):
        raw = (cfg.get("search") or {}).get("predictor_type")
    pred = "none" if raw is None or str(raw).lower() in ("none", "") else str(raw)
    valid = valid_predictors(opt)
    if pred not in valid:
        raise ConfigError(f"predictor '{pred}' does not go with optimizer {opt}; "
                          f"valid: {', '.join(valid)}")
    if opt == "guided" and pred == "none":
        raise ConfigError(f"optimizer guided needs a predictor; valid: {', '.join(valid)}")
    every = _int_option(cfg, "petridish_refit_every", 0, 0)
    batch = _int_option(cfg, "petridish_refit_batch", 1, 1)
    guided_re = opt == "re" and pred != "none"
    if every and not guided_re:
        raise ConfigError(f"petridish_refit_every applies to optimizer re with a predictor, "
                          f"not {opt} with {pred}")
    if batch != 1 and not (guided_re and every):
        raise ConfigError("petridish_refit_batch needs optimizer re, a predictor and "
                          "petridish_refit_every > 0")
    refit_predictor = cfg.get("petridish_refit_predictor", True)
    if not isinstance(refit_predictor, bool):
        raise ConfigError(f"petridish_refit_predictor must be true or false, "
                          f"got {refit_predictor!r}")
    if not refit_predictor and not (guided_re and every):
        raise ConfigError("petridish_refit_predictor: false needs optimizer re, a predictor "
                          "and petridish_refit_every > 0")
    return SearchMethod(opt, pred, every, batch, refit_predictor)


def epochs_for_budget(method: SearchMethod, budget: int, population_size: int = 0,
                      num_init: int = 0, children: int = 0) -> int:
    """The NASLib search epochs that give at most ``budget`` ground-truth queries.

    One query per epoch for RE/RS/LS (plain) and Bananas/Npenas (any predictor): ``budget``
    epochs (Bananas/Npenas need ``num_init`` <= ``budget``).  The dish's RE queries its
    ``population_size`` first architectures and then ``refit_batch`` members per refit
    (one refit every ``refit_every`` children): ``population_size`` +
    ``refit_every`` * ((``budget`` - ``population_size``) // ``refit_batch``) epochs, the
    last one a refit.  Without refits it queries the population only, so
    ``population_size`` must be ``budget``; ``children`` sets how many children the dish
    scores after it (they cost predictor time and are never evaluated)."""
    if budget < 1:
        raise ConfigError(f"the budget of ground-truth queries must be >= 1, got {budget}")
    if method.optimizer in ("bananas", "npenas") and num_init > budget:
        raise ConfigError(f"num_init {num_init} exceeds the budget of {budget} queries")
    if not (method.optimizer == "re" and method.guided):
        return int(budget)
    if population_size < 1 or population_size > budget:
        raise ConfigError(f"population_size must be within 1..{budget}, got {population_size}")
    if method.refit_every == 0:
        if population_size != budget:
            raise ConfigError(f"without refits the dish's RE queries its population only: "
                              f"population_size must be the budget {budget}, "
                              f"got {population_size}")
        return int(budget + max(0, children))
    refits = (budget - population_size) // method.refit_batch
    return int(population_size + refits * method.refit_every)
