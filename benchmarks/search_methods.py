"""The curves of ``benchmarks/search_comparison.py``: each method (a NASLib optimizer with
its predictor and settings), and the NASLib search config of one of its runs.

SEARCH.md's "Methods and budgets" describes these settings in words: change it with them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: regularized evolution (plain and with the dish): NASLib's and White et al.'s settings
POPULATION, SAMPLE = 30, 10
#: BANANAS/NPENAS: White et al.'s NASLib settings (scripts/create_configs.py: BANANAS draws
#: random candidates, NPENAS mutates the 5 best) except 100 candidates per batch instead of
#: 200 (the dish predicts each candidate: 0.7-1.4 s each).  The candidates are what tells
#: the two apart with the dish as surrogate: its acquisition is the top k predictions in
#: both, so with mutation candidates BANANAS-with-the-dish would be NPENAS-with-the-dish.
BO = {"num_init": 20, "k": 20, "num_ensemble": 3, "acq_fn_type": "its",
      "num_arches_to_mutate": 5, "max_mutations": 1, "num_candidates": 100}
#: ``search.acq_fn_optimization`` (NPENAS ignores it: it always mutates)
CANDIDATES = {"bananas": "random_sampling", "npenas": "mutation"}
#: the dish's RE with refits: every 30 children the 15 best-predicted unevaluated members
#: of the population (30) are evaluated and the dish refitted (budget - 30 divisible by 15)
REFIT_EVERY, REFIT_BATCH = 30, 15
#: the dish's options in every dish run: one motif process (the machine is shared)
DISH_OPTIONS = {"workers": 1}


@dataclass(frozen=True)
class Method:
    """One curve: an optimizer with its predictor and settings."""

    name: str
    optimizer: str
    predictor: str = "none"
    refit_every: int = 0
    refit_batch: int = 1
    refit_predictor: bool = True
    label: str = ""
    #: 0: seconds per run (RE, RS), 1: minutes (NASLib's predictors), 2: the dish's
    tier: int = 0

    @property
    def dish(self) -> bool:
        return self.predictor.startswith("petridish")


def _dish_methods(preset: str, short: str) -> list[Method]:
    d = f"petridish-{preset}"
    return [
        Method(f"re-{short}-refit", "re", d, REFIT_EVERY, REFIT_BATCH,
               label=f"RE, dish {short} fitness, refit every {REFIT_EVERY} "
               f"(+{REFIT_BATCH} queries)", tier=2),
        Method(f"re-{short}-fixed", "re", d, REFIT_EVERY, REFIT_BATCH, refit_predictor=False,
               label=f"RE, dish {short} fitness, fitted once (same queries, no refit)",
               tier=2),
        Method(f"bananas-{short}", "bananas", d, label=f"BANANAS, dish {short} surrogate",
               tier=2),
        Method(f"npenas-{short}", "npenas", d, label=f"NPENAS, dish {short} surrogate",
               tier=2),
    ]


#: in plan order within each tier
METHODS = [
    Method("re", "re", label="RE (true accuracy, reference)"),
    Method("rs", "rs", label="random search"),
    # the control for the dish's RE: the same schedule of queries with the (free) parameter
    # count as the children's fitness; a refit would change nothing (it fits nothing)
    Method("re-params-fixed", "re", "params", REFIT_EVERY, REFIT_BATCH, refit_predictor=False,
           label="RE, parameter-count fitness (control)"),
    Method("re-mean-fixed", "re", "mean", REFIT_EVERY, REFIT_BATCH, refit_predictor=False,
           label="RE, constant fitness (control)"),
    Method("npenas-mean", "npenas", "mean",
           label="NPENAS, constant surrogate (control)"),
    Method("bananas", "bananas", "bananas", label="BANANAS (path-MLP ensemble)", tier=1),
    Method("npenas", "npenas", "gcn", label="NPENAS (GCN)", tier=1),
    *_dish_methods("cell-features-boosted", "cfb"),
    *_dish_methods("dish-curve-boosted", "dcb"),
    *_dish_methods("untrained-dish-tse", "tse"),
    *_dish_methods("quick", "quick"),
]
BY_NAME = {m.name: m for m in METHODS}
#: per optimizer, its curve with a predictor that says nothing ('vs control' column)
CONTROLS = {"re": "re-mean-fixed", "npenas": "npenas-mean"}
#: planned curves deliberately not run, with the reason (SEARCH.md says it); the groups
#: (``all``, ``dish``) leave them out, ``run --methods NAME`` still runs them
NOT_RUN = {name: (
    "each refit (RE) or candidate batch (BANANAS/NPENAS) fits a new trained dish (29-33 s "
    "here) and scores its cells again with it (a trained dish changes with every fit, so no "
    "motif result carries over; 0.47-0.52 s per cell): from re-quick-fixed's measured fit "
    "and query times, ~5 / 13 min per RE run and ~9 / 19 min per BANANAS or NPENAS run at "
    "150 / 300, about 12 hours of this machine for the three curves at both budgets. The "
    "trained dish ranks uniformly drawn cells at chance (COMPARISON.md, protocol (c)), and "
    "RE with it fitted once is in the table")
    for name in ("re-quick-refit", "bananas-quick", "npenas-quick")}


def method_epochs(m: Method, budget: int) -> tuple[int, int]:
    """(population_size, search epochs) giving at most ``budget`` ground-truth queries."""
    from naslib_petridish.naslib.search import SearchMethod, epochs_for_budget

    sm = SearchMethod(m.optimizer, m.predictor, m.refit_every, m.refit_batch, m.refit_predictor)
    return POPULATION, epochs_for_budget(sm, budget, population_size=POPULATION,
                                         num_init=BO["num_init"])


def method_config(m: Method, budget: int, seed: int, out_dir: Path) -> str:
    """The NASLib search config (YAML) of one run."""
    pop, epochs = method_epochs(m, budget)
    search = {"epochs": epochs, "checkpoint_freq": 100000, "fidelity": -1,
              "population_size": pop, "sample_size": SAMPLE, **BO,
              "acq_fn_optimization": CANDIDATES.get(m.optimizer, "mutation")}
    lines = [f"seed: {seed}", f"optimizer: {m.optimizer}", f"predictor: {m.predictor}",
             "search_space: nasbench101", "dataset: cifar10", f"out_dir: {out_dir}"]
    if m.refit_every:
        lines += [f"petridish_refit_every: {m.refit_every}",
                  f"petridish_refit_batch: {m.refit_batch}",
                  f"petridish_refit_predictor: {str(m.refit_predictor).lower()}"]
    lines += ["search:"] + [f"  {k}: {v}" for k, v in search.items()]
    if m.dish:
        lines += ["petridish:"] + [f"  {k}: {v}" for k, v in DISH_OPTIONS.items()]
    return "\n".join(lines) + "\n"
