"""Predictor comparison on NAS-Bench-101 after White et al. 2021 (COMPARISON.md).

Drives NASLib's own ``PredictorEvaluator`` (unchanged NASLib code) for NASLib's
model-based predictors, three free baselines (params, FLOPs, synflow) and this package's
dish presets, on the White et al. grid of training-set sizes, 200 test architectures and
several trials, under three protocols:

* ``a`` NASLib as-is: NASLib's sampler (random 7x7 matrices, rejected until valid, so small
  pruned cells recur), its duplicate check in ``load_dataset`` disabled, train/test may
  overlap; comparable with White et al.'s published numbers;
* ``b`` NASLib's sampler, duplicates (by pruned-cell hash) removed, train/test disjoint;
* ``c`` uniform over the 423,624 distinct NB101 cells, train/test disjoint
  (GATES/TNASP/PINAT protocol, ``NB101Table.sample``).

Ground truth: 108-epoch TEST accuracy (repeat 0, the only metric the shared table has for
every cell). The evaluator gets its data by a thin subclass that overrides only
``load_dataset``; the split of each (protocol, trial) is drawn once (test set first, then the
largest training set; smaller sizes are prefixes, as in NASLib) and stored, so every
predictor of a trial sees the same architectures and a resume reuses them.

    # run (resumable: every finished (protocol, predictor, size, trial) is a line of
    # runs/comparison/results.jsonl and is skipped on restart; failures are lines too)
    python -m benchmarks.predictor_comparison run --protocols c b --sizes 14 42 121 \\
        --trials 0 1 2 --predictors params xgb lgb
    # tables and figures from whatever has finished
    python -m benchmarks.predictor_comparison report

Initialization time = NB101 training time (TPU v2 seconds, summed over the training
architectures as NASLib charges it; the table's time where it exists (30,001 cells), else a
least-squares estimate from cell features, see ``TimeModel``) + measured fit time. Query
time = measured seconds per test architecture (NASLib's ``query_time``).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from benchmarks import harness
# the splits: the package's, which `naslib-evaluate --protocol` draws too
from naslib_petridish.protocols import (split_fingerprint, split_from_sampler,  # noqa: F401
                                        split_stats, split_uniform)

PROTOCOLS = {
    "a": "NASLib as-is (NASLib sampler, duplicates kept, train/test may overlap)",
    "b": "NASLib sampler, duplicates removed, train/test disjoint",
    "c": "uniform over distinct NB101 cells, train/test disjoint",
}
SIZES = [5, 8, 14, 24, 42, 71, 121, 205, 347, 589, 1000]  # White et al.'s grid
#: size-independent baselines: evaluated once per (protocol, trial), recorded as size 0
ZERO_COST = ("params", "flops", "synflow")
FAST = ["params", "petridish-untrained-dish-tse", "petridish-dish-curve-boosted",
        "petridish-cell-features-boosted", "petridish-dish-curve-self-trained",
        "petridish-cell-features-self-trained", "xgb", "lgb",
        "rf", "ngb", "bayes_lin_reg", "gp", "mlp", "bananas"]
SLOW = ["bonas", "gcn", "nao", "seminas", "bohamiann", "dngo", "sparse_gp", "var_sparse_gp",
        "flops", "synflow", "petridish-quick"]
PAPER_METHOD = "petridish"  # = petridish-c = the paper's preset paper-c
#: predictors run only up to this training-set size (cost on the 2-core machine)
MAX_SIZE = {"petridish-quick": 121, "petridish-b-short": 347}
#: ... and only from this size on (the paper's method: its own protocol, 1,020 cells)
MIN_SIZE = {PAPER_METHOD: 1000}
#: the paper's shortened presets at smaller sizes: outer epochs = ceil(size / 6), so that
#: every training architecture is used once (the paper: 170 x 6 = 1,020)
SIZE_SCALED = ("petridish-b-short",)
#: the paper's method and its shortened preset (one fit takes minutes to an hour)
PAPER = [PAPER_METHOD, "petridish-b-short"]
METRIC_NOTE = "108-epoch test accuracy (NB101 repeat 0)"
#: the plan COMPARISON.md reports progress against: (protocols, sizes), fast + slow, 3 trials
FULL_PLAN = [(["c", "b"], [14, 42, 121, 347, 1000], FAST + SLOW),
             (["a"], [14, 121, 1000], FAST + SLOW),
             (["c"], [14, 42, 121, 347, 1000], PAPER)]
NOTES = """
## Notes, cuts and how to continue

- **Plan (2-core machine, shared).** Protocols (c) and (b) at n = 14, 42, 121, 347, 1000
  (White et al.'s grid without 5, 8, 24, 71, 205, 589: every size costs a fit per predictor
  and trial), 3 trials; protocol (a) at 14, 121, 1000 only. Fast predictors first (baselines,
  untrained-dish-tse, xgb, lgb, rf, ngb, bayes_lin_reg, gp, mlp, bananas), then the slow ones
  (bonas, gcn, nao, seminas, bohamiann, dngo, sparse_gp, var_sparse_gp, flops, synflow,
  petridish-quick). `petridish-quick` is cut above n = 121 (`MAX_SIZE`). A job that needs more
  than `--timeout` seconds (default 3600) is killed and recorded, and the larger sizes of that
  predictor in that (protocol, trial) are recorded as skipped; a worker that dies (e.g. out
  of memory) is recorded with its exit code.
- **Cost at n = 1000.** "Measured time per job" shows only sizes with finished jobs; the
  slow predictors' jobs are capped by `--timeout` (900 s in the runs of 2026-12-02: a job
  past it is recorded as failed with its error, not dropped). With one torch thread, NASLib's
  slow set at n = 1000 took 0.3 s (bohamiann) to 10 minutes (gcn) per job.
- **Machines.** Jobs up to the morning of 2026-12-02 ran on an AMD EPYC VM (2 vCPUs); the
  later ones on an Intel Xeon VM (2 vCPUs), about 1.7x slower per core on motif training
  (`motif_throughput.json`). Each row keeps its machine; fit and query times of different
  machines are comparable to that factor only. On the Xeon VM the workers were paused
  (SIGSTOP) during two throughput benchmarks: the fit time of gcn, (c), n = 1000, trial 0
  (577 s) includes about 4 minutes of that pause; its Kendall tau is unaffected.
- **Protocol (a), 2026-12-04 (EPYC VM, `OMP_NUM_THREADS=1`, beside one other one-thread
  job):** NASLib's slow set, flops and synflow at 14 and 121, then the fast set at 1,000;
  bananas and the slow set at 1,000 followed in the next session (same VM type, one-thread
  jobs beside a search lane): bananas +0.83 there (fit about 2 minutes), gcn +0.66, seminas
  +0.62 (fit about 5 minutes).
- **Timing.** Fit and query times are wall seconds on a 2-core machine shared with other
  jobs, libraries at their default threading (torch, xgboost, lightgbm use both cores), the
  dish presets with one motif worker (`--dish-workers 1`): at small sizes they are noisy
  (e.g. the same predictor 10 s in one trial and 100 s in another; on 2026-12-01 up to four
  CPU-bound jobs shared the 2 cores, so NASLib's torch predictors (mlp, bananas) took up to
  10 minutes at n = 121). Initialization time is
  dominated by the NB101 training time of the training set (about 1e4 s at n = 14), so
  this noise does not move the init-time axis.
- **The boosted presets of RANKING.md** (`petridish-dish-curve-boosted`,
  `petridish-cell-features-boosted`: trees on the cell's features, with or without the dish's
  learning curve, averaged with 3 graph networks) joined the fast predictors on 2026-12-01.
- **The self-trained presets of RANKING.md** (`petridish-dish-curve-self-trained`,
  `petridish-cell-features-self-trained`: the boosted presets with graph networks
  self-trained on 10,000 unlabelled random cells) joined on 2026-12-02. Both now ran in (b)
  and (c) at every size of the plan (14, 42, 121, 347, 1,000; 3 trials each; the last gaps,
  (b) 14/42/347/1,000 and (c) 347/1,000, on 2026-12-04, EPYC VM, one-thread jobs beside a
  search lane) and in (a) at 14, 121 and 1,000. `dish-curve-self-trained` trains a motif per
  training and per test cell: about 0.2-0.3 s each, so a job at n = 1,000 takes 6-9
  minutes. Their fit time includes the self-training (1.5-4 minutes on the shared machine), which
  does not move the initialization-time axis (NB101 training time of the training cells dominates).
  Lost runs: the slow predictors' results of 2026-12-01 were on a machine that was
  replaced before they were recorded here. Re-run on 2026-12-02 with `OMP_NUM_THREADS=1`
  (one torch thread per job): NASLib's torch predictors are then fast (gcn at (c) n = 121:
  15 s fit, where three jobs with the default two threads on the shared cores each ran past
  900 s; seminas at 14: 5 s instead of 300 s), so the "slow" set ran at 14, 42, 121 and (as
  far as the session allowed) 347. Use `OMP_NUM_THREADS=1` whenever other jobs share the
  cores. Their fit times are one-thread times; the fast predictors' are with the
  libraries' default threading.
- **Records outlive the machine.** `run` counts the rows of the committed `comparison.json`
  as done where the split drawn here has the same fingerprint (a digest of the test and
  training lists), and `report` merges them under the work folder's rows; a session on a
  new machine continues where the last one stopped.
- **The paper's method** (`petridish` = paper-c: motif C, 100 inner epochs, 170 outer
  epochs of 6 motifs, calibrated on its training cells) runs in protocol (c) at n = 1,000
  only (the paper used 1,020). One trial costs an hour or more of the whole machine (two
  motif workers, nothing else running): trial 0 (2026-12-02, Xeon VM) fit 53 minutes and
  queried 2.8 s per architecture; trial 1 (2026-12-03, an EPYC VM slower on this work than
  the Xeon) fit 66 minutes (nearly all of it the 170 outer epochs; calibration trains 24
  motifs) and queried 3.5 s per
  architecture; trial 2 (2026-12-03, the same EPYC VM) fit 62 minutes and queried 3.6 s
  per architecture. Kendall: trial 0 +0.114, trial 1 -0.120, trial 2 +0.09, mean
  +0.03 +- 0.13; far below every other predictor at that size and below the parameter
  count (+0.35): the dish ranks unseen cells at chance, as REPORT.md found on its own
  held-out split (+0.009 +- 0.013, 3 seeds; not protocol (c): trained and tested within the
  30,001 cells with validation accuracy). In trial 1 the outer batch of epoch 168 (6
  training cells) had |Pearson| 0.57 (loss 0.43) while unseen cells ranked at chance.
  Command: `... run --protocols c --sizes 1000 --predictors petridish --dish-workers 2
  --timeout 7200`, with nothing else on the machine. Since 2026-12-03 the dish presets that
  generate a dish (paper, b-short, quick) checkpoint it every outer epoch in the job's folder
  (`<work>/naslib/<protocol>/<predictor>/n<size>-t<trial>/dish_run`): a run that is
  stopped continues the fit where it stopped (`--retry-failed` after a timeout), and a job
  stopped while querying reuses its finished dish; the fit time recorded is then the sum
  of the outer epochs of all calls (`fit_start` in the row says how it began).
  Its shortened preset at smaller sizes (`petridish-b-short`, outer epochs = ceil(n / 6);
  motif B with meta-gradients through 16 inner epochs) ran in (c) at 14, 42 and 121 (3
  trials each; EPYC VM, 2026-12-03/04, one motif worker beside another one-thread job):
  fit 81 / 146 / 351 s, query 2.3-2.5 s per architecture, Kendall +0.02 / +0.09 / +0.02:
  chance at every size. n = 347 (58 outer epochs, about 17 minutes per job by the measured
  growth, 50 minutes for 3 trials) is cut: the preset ranks at chance at the three sizes
  run, as the full method does at 1,000, and those minutes went to the self-trained presets'
  gaps (`... run --protocols c --sizes 347 --predictors petridish-b-short` runs it).
- **Fixes to NASLib's entries, not to its code** (in this package's registry,
  `naslib_petridish/naslib/predictors.py`, so `naslib-evaluate` has them too). NASLib's runner
  builds `seminas` with `encoding_type="seminas"` (a string), which NASLib's NB101 encoder
  rejects (`NotImplementedError`); the registry passes `EncodingType.SEMINAS`. NASLib's
  `ZeroCost` scores one network per call while the evaluator passes the whole list: the
  registry wraps it per architecture, after `graph.parse()` (without it the network is not a
  registered submodule and synflow fails with a dtype error). The evaluator's
  architectures are built with
  `instantiate_model = False` (the encodings need the spec only; building 1,200 torch
  networks per job took minutes); the zero-cost wrapper builds each test network inside its
  timed query.
- **Ground truth / train times.** NASLib's evaluator queries `VAL_ACCURACY`; the dataset API
  runs with `metric=test`, so that key is the 108-epoch test accuracy for every cell.
  NASLib's own `train_time` sum is NaN for cells without a time in the shared table, hence
  the estimate above. White et al. scored against NASLib's validation accuracy (a random
  repeat); the shared table has validation accuracy for 30,001 cells only, so protocol (a)
  matches their sampling and evaluator but not their exact target.
"""
RESULTS_FILE = "results.jsonl"


# --- training time of NB101 architectures --------------------------------------------------


def cell_features(table, rows) -> np.ndarray:
    """[1, log params, #conv3x3, #conv1x1, #maxpool, #edges, depth, #vertices] per row."""
    rows = np.asarray(rows, dtype=np.int64)
    adj = table.adjacency[rows].astype(np.int64)
    ops = table.ops[rows]
    nv = table.num_vertices[rows].astype(np.int64)
    dist = np.full((len(rows), 7), -10**6, np.int64)
    dist[:, 0] = 0
    for j in range(1, 7):
        cand = np.where(adj[:, :j, j] > 0, dist[:, :j] + 1, -10**6)
        dist[:, j] = cand.max(axis=1)
    depth = dist[np.arange(len(rows)), nv - 1]
    return np.column_stack([np.ones(len(rows)), np.log(table.params[rows].astype(float)),
                            (ops == 0).sum(1), (ops == 1).sum(1), (ops == 2).sum(1),
                            adj.sum((1, 2)), depth, nv]).astype(float)


class TimeModel:
    """NB101 108-epoch training time: the table's value (repeat 2) where it exists, else
    exp(least squares of log time on :func:`cell_features`), fitted on the cells with a
    time.  ``check`` holds its error on 20% of those cells held out of a first fit."""

    def __init__(self, table, seed: int = 0):
        self.table = table
        e = list(table.epochs).index(108)
        t = table.train_time[:, e, 2]  # the only repeat the shared table has
        self.known = np.isfinite(t) & (t > 0)
        self.times = t
        rows = np.flatnonzero(self.known)
        X, y = cell_features(table, rows), np.log(t[rows])
        perm = np.random.default_rng(seed).permutation(len(rows))
        cut = int(0.8 * len(rows))
        fit, held = perm[:cut], perm[cut:]
        c, *_ = np.linalg.lstsq(X[fit], y[fit], rcond=None)
        pred = X[held] @ c
        rel = np.abs(np.exp(pred) / np.exp(y[held]) - 1)
        from scipy import stats
        self.check = {
            "fit_cells": int(len(fit)), "held_out_cells": int(len(held)),
            "held_out_median_abs_rel_error": float(np.median(rel)),
            "held_out_mean_abs_rel_error": float(rel.mean()),
            "held_out_r2_log": float(1 - np.sum((pred - y[held]) ** 2)
                                     / np.sum((y[held] - y[held].mean()) ** 2)),
            "held_out_kendall": float(stats.kendalltau(pred, y[held])[0]),
            "held_out_total_time_ratio": float(np.exp(pred).sum() / np.exp(y[held]).sum())}
        self.coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        self.features = ["1", "log params", "#conv3x3", "#conv1x1", "#maxpool3x3", "#edges",
                         "depth", "#vertices"]

    def seconds(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, whether each is the table's real value) for table rows."""
        rows = np.asarray(rows, dtype=np.int64)
        real = self.known[rows]
        est = np.exp(cell_features(self.table, rows) @ self.coef)
        return np.where(real, self.times[rows], est), real

    def describe(self) -> dict:
        return {"model": "log(train seconds) ~ " + " + ".join(
                    f"{c:+.4g}*{f}" for c, f in zip(self.coef, self.features)),
                "coef": dict(zip(self.features, map(float, self.coef))),
                "cells_with_real_time": int(self.known.sum()), **self.check}


# --- NASLib side (imported lazily: NASLib is optional) --------------------------------------


class Worker:
    """Everything that needs NASLib: the table as its dataset API, the splits as NASLib
    architectures (cached per (protocol, trial)), the predictors and the evaluator."""

    def __init__(self, nb101, work: Path, test_size: int, max_train: int,
                 dish_workers: int = 1):
        from naslib_petridish.naslib import import_naslib, make_dataset_api

        self.nl = import_naslib()
        self.table = harness.ground_truth(nb101)
        self.api = make_dataset_api(self.table, metric="test")
        self.work, self.test_size, self.max_train = work, test_size, max_train
        self.dish_workers = dish_workers
        self.timemodel = TimeModel(self.table)
        self._archs: dict = {}

    # splits ------------------------------------------------------------------------------
    def _naslib_sample(self) -> dict:
        from naslib_petridish.cells import as_cell
        ss = self.nl.NasBench101SearchSpace()
        ss.instantiate_model = False
        ss.sample_random_architecture(dataset_api=self.api)
        spec = ss.get_spec()
        m = np.asarray(spec["matrix"], dtype=int)
        return {"hash": as_cell(ss).hash, "matrix": "".join(map(str, m.reshape(-1))),
                "ops": list(spec["ops"])}

    def split(self, protocol: str, trial: int) -> dict:
        path = self.work / "splits" / f"{protocol}-t{trial}.json"
        if path.exists():
            s = json.loads(path.read_text())
            if len(s["test"]) >= self.test_size and len(s["train"]) >= self.max_train:
                return s
        if protocol == "c":
            s = split_uniform(self.table, self.test_size, self.max_train, trial)
            how = "NB101Table.sample, numpy default_rng([trial, 12])"
        else:  # NASLib's sampler, seeded as NASLib seeds its runs
            self.nl.utils.set_seed(trial)
            s = split_from_sampler(self._naslib_sample, self.test_size, self.max_train,
                                   distinct=(protocol == "b"))
            how = f"NASLib sample_random_architecture after naslib.utils.set_seed({trial})"
        s.update(protocol=protocol, trial=trial, drawn_by=how, stats=split_stats(s))
        path.parent.mkdir(parents=True, exist_ok=True)
        from naslib_petridish.rundir import write_atomic
        write_atomic(path, json.dumps(s))
        return s

    def _arch(self, item: dict):
        a = self.nl.NasBench101SearchSpace()
        a.instantiate_model = False  # the evaluator's encodings need the spec only
        if "matrix" in item:
            m = np.array([int(c) for c in item["matrix"]], dtype=np.int64).reshape(7, 7)
            a.set_spec({"matrix": m, "ops": list(item["ops"])})
        else:  # NASLib's own path for a labeled architecture (hash -> padded 7x7 spec)
            a.set_spec(item["hash"], dataset_api=self.api)
        return a

    def data(self, protocol: str, trial: int):
        """(test data, full training data, split) in NASLib's [x, y, info, times] form."""
        key = (protocol, trial)
        if key not in self._archs:
            from naslib.search_spaces.core.query_metrics import Metric
            s = self.split(protocol, trial)
            out = []
            for part in ("test", "train"):
                xs = [self._arch(it) for it in s[part]]
                ys = [x.query(Metric.VAL_ACCURACY, "cifar10", dataset_api=self.api)
                      for x in xs]  # = test accuracy: the dataset API runs with metric=test
                rows = self.table.indices([it["hash"] for it in s[part]])
                out.append(([xs, ys, [{} for _ in xs], [0.0] * len(xs)], rows))
            self._archs = {key: (out[0], out[1], s)}  # one (protocol, trial) at a time
        return self._archs[key]

    def unlabeled(self, protocol: str, trial: int, n: int, exclude: set) -> list:
        """Extra architectures for semi-supervised predictors (SemiNAS), drawn like the
        protocol draws (disjoint from the split for b and c)."""
        if protocol == "c":
            rng = np.random.default_rng([trial, n, 0x5E])
            rows = self.table.sample(n, rng=rng, exclude=self.table.indices(list(exclude)))
            return [self._arch({"hash": str(self.table.hashes[r])}) for r in rows]
        self.nl.utils.set_seed(10_000 + trial)
        s = split_from_sampler(self._naslib_sample, 0, n + (len(exclude) if protocol == "b" else 0),
                               distinct=(protocol == "b"))
        items = [x for x in s["train"] if protocol == "a" or x["hash"] not in exclude][:n]
        return [self._arch(x) for x in items]

    # predictors --------------------------------------------------------------------------
    def config(self, protocol, predictor, size, trial):
        cfg = self.nl.utils.load_default_config(config_type="predictor")
        cfg.set_new_allowed(True)
        cfg.search_space, cfg.dataset, cfg.predictor = "nasbench101", "cifar10", predictor
        cfg.experiment_type, cfg.uniform_random = "single", 1
        cfg.test_size, cfg.train_size_single = self.test_size, max(size, 1)
        cfg.train_size_list = [max(size, 1)]
        cfg.max_hpo_time = 0          # White et al.'s default: no cross-validated HPO
        cfg.hparams_from_file = False  # NASLib's default hyperparameters
        cfg.seed = trial
        cfg.search.seed = trial
        cfg.ground_truth_metric = "test"
        cfg.save = str(self.work / "naslib" / protocol / predictor / f"n{size}-t{trial}")
        return cfg

    def predictor(self, name, cfg):
        from naslib_petridish.naslib import get_predictor
        from naslib_petridish.naslib.predictors import float64_queries
        if name == "params":  # the table's exact count (log), not NASLib's network build
            return get_predictor("params", cfg, table=self.table)
        if name.startswith("petridish"):
            extra = ({"outer_epochs": max(1, math.ceil(cfg.train_size_single / 6))}
                     if name in SIZE_SCALED else {})
            pred = get_predictor(name, cfg, table=self.table, workers=self.dish_workers,
                                 **extra)
            if pred.generates_dish:
                # a dish generated over outer epochs (up to an hour or more): checkpointed
                # in the job's folder, so that a killed job continues where it stopped and a
                # job killed while querying reuses its finished dish
                pred.out_dir, pred.resume = Path(cfg.save) / "dish_run", True
            return pred
        return float64_queries(get_predictor(name, cfg))

    def evaluate(self, protocol, predictor, size, trial) -> dict:
        nl = self.nl
        (test, _), (train, train_rows), split = self.data(protocol, trial)
        cfg = self.config(protocol, predictor, size, trial)
        os.makedirs(cfg.save, exist_ok=True)
        nl.utils.set_seed(trial)
        pred = self.predictor(predictor, cfg)
        worker = self

        class SplitEvaluator(nl.PredictorEvaluator):
            """NASLib's evaluator with only its data loading replaced: 1st call the stored
            test set, 2nd the first ``data_size`` stored training architectures, later calls
            (unlabeled data for SemiNAS) fresh draws of the protocol."""
            calls = 0

            def load_dataset(self, load_labeled=False, data_size=10, arch_hash_map={}):
                SplitEvaluator.calls += 1
                if SplitEvaluator.calls == 1:
                    return [list(d) for d in test], arch_hash_map
                if SplitEvaluator.calls == 2:
                    return [list(d[:data_size]) for d in train], arch_hash_map
                ex = {x["hash"] for x in split["test"] + split["train"]}
                xs = worker.unlabeled(protocol, trial, data_size, ex)
                return [xs, [None] * len(xs), [{}] * len(xs), [0.0] * len(xs)], arch_hash_map

        ev = SplitEvaluator(pred, config=cfg)
        ev.adapt_search_space(nl.NasBench101SearchSpace(), load_labeled=False,
                              dataset_api=self.api)
        try:
            res = ev.evaluate()[-1]
        finally:
            if hasattr(pred, "close"):
                pred.close()
        n = size
        secs, real = self.timemodel.seconds(train_rows[:n])
        hashes = [x["hash"] for x in split["train"][:n]]
        test_h = {x["hash"] for x in split["test"]}
        out = {k: _num(res.get(k)) for k in ("kendalltau", "spearman", "pearson", "mae",
                                             "rmse", "precision_10", "precision_20",
                                             "fit_time", "query_time")}
        out.update(train_seconds_nb101=float(secs.sum()), train_times_real=int(real.sum()),
                   train_distinct=len(set(hashes)), train_in_test=sum(h in test_h for h in hashes),
                   test_distinct=len(test_h), test_size=len(split["test"]),
                   split=split_fingerprint(split))
        if getattr(pred, "fit_start", ""):
            # NASLib times its own call to fit(); a resumed fit also spent the outer epochs
            # of the killed calls, a reused one the whole of an earlier call
            out["fit_start"] = pred.fit_start
            if pred.fit_start != "new":
                out["fit_time"] = float(pred.fit_seconds)
        out["init_seconds"] = out["train_seconds_nb101"] + (out["fit_time"] or 0.0)
        return out


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _worker_loop(conn, nb101, work, test_size, max_train, log, dish_workers=1):
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = sys.stdout
    import multiprocessing as mp
    import signal
    import threading

    def die(*_):  # take the dish's motif processes along
        for c in mp.active_children():
            c.kill()
        os._exit(143)

    signal.signal(signal.SIGTERM, die)
    parent = os.getppid()

    def watchdog():  # the parent was killed (SIGKILL): stop too
        while True:
            time.sleep(5)
            if os.getppid() != parent:
                die()

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        w = Worker(nb101, Path(work), test_size, max_train, dish_workers)
        conn.send({"ready": True, "timemodel": w.timemodel.describe()})
    except Exception as exc:
        conn.send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    while True:
        job = conn.recv()
        if job is None:
            return
        if job.get("op") == "fingerprint":  # the split drawn here, for reusing records
            try:
                conn.send({"status": "ok", "split": split_fingerprint(
                    w.split(job["protocol"], job["trial"]))})
            except Exception as exc:
                conn.send({"status": "error", "error": f"{type(exc).__name__}: {exc}"})
            continue
        print(f"=== job {job}", flush=True)
        try:
            res = w.evaluate(**job)
            conn.send({"status": "ok", **res})
        except BaseException as exc:  # recorded, never silently dropped
            traceback.print_exc()
            msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            conn.send({"status": "error", "error": msg})
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                return


class WorkerProcess:
    """One worker process (spawned; NASLib and the table loaded once), killed on timeout
    or crash and started again for the next job."""

    def __init__(self, args):
        self.args, self.proc, self.conn, self.timemodel = args, None, None, None

    def start(self):
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        work = Path(self.args.work)
        self.proc = ctx.Process(target=_worker_loop, daemon=False, args=(  # dish workers fork
            child, self.args.nb101, str(work), self.args.test_size, max(self.args.max_train, 1),
            str(work / "worker.log"), self.args.dish_workers))
        self.proc.start()
        self.conn = parent
        if not parent.poll(600):
            raise RuntimeError("worker did not start within 600 s")
        msg = parent.recv()
        if not msg.get("ready"):
            raise RuntimeError(f"worker failed to start: {msg.get('error')}")
        self.timemodel = msg["timemodel"]
        (work / "timemodel.json").write_text(json.dumps(self.timemodel, indent=1))

    def stop(self):
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.terminate()  # the worker kills its own children, then exits
                self.proc.join(15)
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(10)
        self.proc = self.conn = None

    def run(self, job: dict, timeout: float) -> dict:
        if self.proc is None or not self.proc.is_alive():
            self.start()
        self.conn.send(job)
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.conn.poll(5):
                try:
                    return self.conn.recv()
                except EOFError:
                    break
            if not self.proc.is_alive():
                break
        alive = self.proc.is_alive()
        code = self.proc.exitcode
        self.stop()
        if alive:
            return {"status": "error", "error": f"timeout: no result after {timeout:.0f} s "
                    "(worker killed; a dish being generated continues from its checkpoint "
                    "with --retry-failed)"}
        return {"status": "error", "error": f"worker died (exit code {code}; out of memory "
                "if -9): see worker.log"}


# --- run ------------------------------------------------------------------------------------


def job_key(r: dict) -> tuple:
    return (r["protocol"], r["predictor"], int(r["train_size"]), int(r["trial"]))


def read_results(work) -> list[dict]:
    p = Path(work) / RESULTS_FILE
    if not p.exists():
        return []
    rows = []
    for line in p.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut by a kill
    return rows


def read_committed(results: Path) -> tuple[list[dict], list[dict]]:
    """(runs, splits) of the committed ``comparison.json``: the record that outlives a
    machine. ``run`` counts these jobs as done where the split drawn here has the same
    fingerprint, and ``report`` merges them under the rows of the work folder."""
    p = Path(results) / "comparison.json"
    if not p.exists():
        return [], []
    d = json.loads(p.read_text())
    return d.get("runs", []), d.get("splits", [])


def committed_timemodel(results: Path):
    p = Path(results) / "comparison.json"
    return json.loads(p.read_text()).get("timemodel") if p.exists() else None


def merge_rows(committed: list[dict], local: list[dict]) -> list[dict]:
    """The last row of each job, local rows over committed ones; committed rows of a
    (protocol, trial) whose split differs from the local rows' split are dropped."""
    local_split = {(r["protocol"], int(r["trial"])): r["split"] for r in local if r.get("split")}
    last = {}
    for r in committed:
        s = local_split.get((r["protocol"], int(r["trial"])))
        if s is None or r.get("split") == s:
            last[job_key(r)] = r
    for r in local:
        last[job_key(r)] = r
    return list(last.values())


def append_result(work, row: dict) -> None:
    with open(Path(work) / RESULTS_FILE, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def plan(protocols, sizes, predictors, trials) -> list[dict]:
    """Jobs in the order given: protocol, then size, then predictor, then trial; the
    size-independent baselines once per (protocol, trial), as size 0."""
    jobs, seen = [], set()
    for p in protocols:
        for n in sizes:
            for name in predictors:
                size = 0 if name in ZERO_COST else n
                if name in MAX_SIZE and n > MAX_SIZE[name] or n < MIN_SIZE.get(name, 0):
                    continue
                for t in trials:
                    k = (p, name, size, t)
                    if k not in seen:
                        seen.add(k)
                        jobs.append({"protocol": p, "predictor": name, "size": size, "trial": t})
    return jobs


def cmd_run(args):
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    predictors = [x for p in args.predictors for x in
                  (FAST if p == "fast" else SLOW if p == "slow" else PAPER if p == "paper"
                   else [p])]
    args.max_train = max(max(args.sizes), args.max_train)
    wp = WorkerProcess(args)
    old = read_results(work)
    committed, _ = read_committed(args.results)
    if committed and not args.ignore_committed:
        # reuse the committed rows of a (protocol, trial) only if this machine draws the
        # same split (NASLib's sampler depends on library versions)
        here = {}
        for pt in sorted({(r["protocol"], int(r["trial"])) for r in committed}):
            got = wp.run({"op": "fingerprint", "protocol": pt[0], "trial": pt[1]}, 1200)
            here[pt] = got.get("split")
        usable = [r for r in committed if r.get("split") == here[(r["protocol"], int(r["trial"]))]]
        print(f"{len(usable)} of {len(committed)} committed results reused (same split); "
              f"{len(committed) - len(usable)} not", flush=True)
        old = merge_rows(usable, old)
    done = {job_key(r) for r in old if r["status"] == "ok" or not args.retry_failed}
    failed = {(r["protocol"], r["predictor"], int(r["trial"])): int(r["train_size"])
              for r in old if r["status"] != "ok" and "timeout" in r.get("error", "")}
    jobs = plan(args.protocols, args.sizes, predictors, args.trials)
    todo = [j for j in jobs if (j["protocol"], j["predictor"], j["size"], j["trial"]) not in done]
    print(f"{len(jobs)} jobs, {len(jobs) - len(todo)} already recorded, {len(todo)} to run; "
          f"results: {work / RESULTS_FILE}, NASLib output: {work / 'worker.log'}", flush=True)
    prov = harness.provenance()
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))  # so that the worker is killed
    try:
        for j in todo:
            key = (j["protocol"], j["predictor"], j["trial"])
            if not args.retry_failed and key in failed and j["size"] > failed[key]:
                res = {"status": "error", "error": f"skipped: timed out at size {failed[key]}"}
            else:
                t0 = time.time()
                res = wp.run(j, args.timeout)
                res["wall_seconds"] = time.time() - t0
                if "timeout" in res.get("error", ""):
                    failed[key] = j["size"]
            row = {"protocol": j["protocol"], "predictor": j["predictor"],
                   "train_size": j["size"], "trial": j["trial"], **res,
                   "metric": "test@108", "machine": prov["machine"], "utc": _utc()}
            append_result(work, row)
            msg = (f"tau {row['kendalltau']:+.3f} fit {row['fit_time']:.1f}s "
                   f"query {row['query_time']:.4f}s/arch" if res["status"] == "ok"
                   and row.get("kendalltau") is not None else res.get("error", "no tau"))
            print(f"[{row['utc']}] {j['protocol']} {j['predictor']} n={j['size']} "
                  f"t={j['trial']}: {msg}", flush=True)
        if wp.proc is not None and wp.proc.is_alive():  # done: let the worker exit
            wp.conn.send(None)
            wp.proc.join(30)
    finally:
        wp.stop()  # interrupted: kill the worker (a finished job is already recorded)
    if wp.timemodel:
        (work / "timemodel.json").write_text(json.dumps(wp.timemodel, indent=1))


def _utc():
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# --- report ---------------------------------------------------------------------------------


def _ms(v):
    v = [x for x in v if x is not None]
    if not v:
        return None, None
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if len(v) > 1 else None)


def summarize(rows):
    groups = defaultdict(list)
    for r in rows:
        if r["status"] == "ok":
            groups[(r["protocol"], r["predictor"], int(r["train_size"]))].append(r)
    out = []
    for (p, name, n), rs in sorted(groups.items()):
        s = {"protocol": p, "predictor": name, "train_size": n,
             "trials": sorted(int(r["trial"]) for r in rs),
             # finished trials whose Kendall tau is undefined (NaN from NASLib's evaluator:
             # constant or non-finite predictions); the means are over the other trials
             "undefined_tau_trials": sorted(int(r["trial"]) for r in rs
                                            if r.get("kendalltau") is None)}
        for k in ("kendalltau", "spearman", "pearson", "fit_time", "query_time",
                  "train_seconds_nb101", "init_seconds", "train_distinct", "train_in_test"):
            m, sd = _ms([r.get(k) for r in rs])
            s[k] = {"mean": m, "std": sd}
        out.append(s)
    return out


def _pm(d, p=3, sign=True):
    if d["mean"] is None:
        return "-"
    f = f"{{:{'+' if sign else ''}.{p}f}}"
    return f.format(d["mean"]) + (f" ± {d['std']:.{p}f}" if d["std"] is not None else "")


def _secs(x):
    if x is None:
        return "-"
    return f"{x:.2g}" if x < 0.01 else f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def label(name):
    if name == PAPER_METHOD:
        return "petridish (paper's method, paper-c)"
    if name in SIZE_SCALED:
        return f"{name} (paper's method, shortened; outer epochs = n / 6)"
    if name in ZERO_COST:
        return f"{name} (zero-cost)"
    return name


def style(name, i):
    """Line style per predictor: the paper's method red, thick, stars; our other dish
    presets black; zero-cost baselines dashed."""
    if name == PAPER_METHOD:
        return dict(color="red", lw=3, marker="*", ms=14, zorder=10)
    if name in SIZE_SCALED:  # the paper's method, shortened (motif B, 16 inner epochs)
        return dict(color="red", lw=2, ls=":", marker="*", ms=10, zorder=10)
    if name == "petridish-dish-curve-boosted":
        return dict(color="navy", lw=2.5, marker="s", ms=7, zorder=9)
    if name == "petridish-cell-features-boosted":  # the same model without the dish
        return dict(color="darkcyan", lw=2, ls="--", marker="^", ms=7, zorder=9)
    if name == "petridish-dish-curve-self-trained":
        return dict(color="darkmagenta", lw=2.5, marker="s", ms=7, zorder=9)
    if name == "petridish-cell-features-self-trained":
        return dict(color="hotpink", lw=2, ls="--", marker="^", ms=7, zorder=9)
    if name == "petridish-quick":  # a trained dish, but not the paper's settings
        return dict(color="dimgray", lw=2, ls="-.", marker="P", ms=8, zorder=9)
    if name.startswith("petridish"):
        return dict(color="black", lw=2, marker="D", ms=6, zorder=9)
    plt = harness.pyplot()
    # red is kept for the paper's method, black for the dish presets
    palette = [plt.get_cmap("tab20")(j) for j in range(20) if j not in (6, 7)] + \
        [plt.get_cmap("tab20b")(j) for j in (0, 4, 8, 12)]
    order = [n for n in FAST + SLOW if not n.startswith("petridish")]
    i = order.index(name) if name in order else i  # the same colour in every figure
    return dict(color=palette[i % len(palette)], lw=1.3, marker="o", ms=4)


def plots(summary, protocol, out: Path) -> list[Path]:
    plt = harness.pyplot()
    ss = [s for s in summary if s["protocol"] == protocol]
    if not ss:
        return []
    names = sorted({s["predictor"] for s in ss}, key=lambda n: (n.startswith("petridish"), n))
    by = {n: sorted([s for s in ss if s["predictor"] == n], key=lambda s: s["train_size"])
          for n in names}
    paths = []
    title = f"protocol {protocol}: {PROTOCOLS[protocol]}"
    ylab = f"Kendall tau vs {METRIC_NOTE}\n(200 test archs, mean over trials)"
    for xkey, xlab, fname in (("init_seconds", "initialization time (s): NB101 training time "
                               "of the training set + fit time", "init"),
                              ("query_time", "query time (s per architecture)", "query")):
        fig, ax = plt.subplots(figsize=(10, 5.2))
        for i, n in enumerate(names):
            pts = by[n]
            st = style(n, i)
            if n in ZERO_COST and xkey == "init_seconds":  # no training set: init time 0
                ax.axhline(pts[0]["kendalltau"]["mean"], ls="--", color=st["color"], lw=1.8,
                           label=f"{label(n)}: init 0")
                continue
            x = [s[xkey]["mean"] for s in pts]
            y = [s["kendalltau"]["mean"] for s in pts]
            e = [s["kendalltau"]["std"] or 0 for s in pts]
            ax.errorbar(x, y, yerr=e, capsize=2, label=label(n), **st)
        if xkey == "init_seconds":
            # the NB101 training time of the training set dominates the init time, so each
            # size sits at about one x: name it once, at the foot of the axes
            at = defaultdict(list)
            for s in ss:
                if s["predictor"] not in ZERO_COST and s["init_seconds"]["mean"]:
                    at[s["train_size"]].append(s["init_seconds"]["mean"])
            for size, xs_ in sorted(at.items()):
                ax.annotate(f"n={size}", (float(np.median(xs_)), 0.01),
                            xycoords=("data", "axes fraction"), fontsize=8, ha="center",
                            va="bottom", color="dimgray")
        ax.set_xscale("log")
        xs = [s[xkey]["mean"] for s in ss if s[xkey]["mean"] and
              not (xkey == "init_seconds" and s["predictor"] in ZERO_COST)]
        if xs:  # at least a decade each side: one size alone would zoom into fit-time noise
            ax.set_xlim(min(xs) / 3, max(xs) * 3)
        ax.set_xlabel(xlab)
        ax.set_ylabel(ylab)
        ax.axhline(0, color="grey", lw=0.5)
        if PAPER_METHOD not in names:
            title2 = title + "\n(paper's method petridish = paper-c: not run in this table)"
        else:
            title2 = title
        ax.set_title(title2, fontsize=10)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.grid(alpha=0.3, which="both")
        paths.append(harness.save_figure(fig, out / f"comparison_{protocol}_{fname}.png",
                                         dpi=100))
    # Pareto: for each (init budget, query budget), the predictor with the best mean tau
    # among the (predictor, size) settings within both budgets
    pts = [(max(s["init_seconds"]["mean"] or 0, 1.0), s["query_time"]["mean"],
            s["kendalltau"]["mean"], s["predictor"]) for s in ss
           if s["kendalltau"]["mean"] is not None and s["query_time"]["mean"] is not None]
    if pts:
        xi = np.logspace(0, math.log10(max(p[0] for p in pts)) + 0.3, 120)
        qmin = max(min(p[1] for p in pts), 1e-7)
        yq = np.logspace(math.log10(qmin) - 0.3, math.log10(max(p[1] for p in pts)) + 0.3, 120)
        best = np.full((len(yq), len(xi)), -1)
        tau = np.full((len(yq), len(xi)), np.nan)
        for a, xb in enumerate(xi):
            for b, qb in enumerate(yq):
                ok = [p for p in pts if p[0] <= xb and p[1] <= qb]
                if ok:
                    w = max(ok, key=lambda p: p[2])
                    best[b, a] = names.index(w[3])
                    tau[b, a] = w[2]
        present = sorted({int(v) for v in best.reshape(-1) if v >= 0})
        colors = {k: style(names[k], k)["color"] for k in present}
        img = np.ones(best.shape + (3,))
        for k in present:
            img[best == k] = plt.matplotlib.colors.to_rgb(colors[k])
        fig, ax = plt.subplots(figsize=(10, 5.2))
        ax.imshow(img, origin="lower", aspect="auto", interpolation="nearest",
                  extent=[math.log10(xi[0]), math.log10(xi[-1]), math.log10(yq[0]),
                          math.log10(yq[-1])])
        for b in range(10, len(yq), 20):
            for a in range(10, len(xi), 20):
                if np.isfinite(tau[b, a]):
                    ax.text(math.log10(xi[a]), math.log10(yq[b]), f"{tau[b, a]:.2f}",
                            fontsize=7, color="black", ha="center", va="center",
                            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none",
                                      alpha=0.75))
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color=colors[k], label=label(names[k])) for k in present]
                  + [Patch(facecolor="white", edgecolor="grey",
                           label="nothing fits (white)")],
                  fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.set_xlabel("log10 initialization budget (s)")
        ax.set_ylabel("log10 query budget (s per architecture)")
        ax.set_title(f"{title}\nbest mean Kendall tau ({METRIC_NOTE}) within both budgets "
                     "(numbers: that tau)", fontsize=9)
        paths.append(harness.save_figure(fig, out / f"comparison_{protocol}_pareto.png",
                                         dpi=100))
    return paths


def _machines(rows) -> str:
    """Which machines measured the jobs (fit and query times are theirs), with counts."""
    c = Counter(r.get("machine", "?") for r in rows)
    if len(c) <= 1:
        return f"machine: {next(iter(c), '-')}"
    return "machines (jobs measured on each; times are per machine): " + "; ".join(
        f"{m} ({n})" for m, n in c.most_common())


def _trials(s) -> str:
    """Finished trials of a summary row, "k of m" where m - k had undefined correlations."""
    n_all, n_undef = len(s["trials"]), len(s.get("undefined_tau_trials", []))
    return f"{n_all - n_undef} of {n_all}" if n_undef else f"{n_all}"


def markdown(summary, rows, timemodel, splits, args) -> str:
    L = ["# Predictor comparison on NAS-Bench-101 (White et al. 2021 protocol)", "",
         f"Generated by `python -m benchmarks.predictor_comparison report` from "
         f"`{args.work}/{RESULTS_FILE}`; {_machines(rows)}. "
         f"Metric everywhere: **{METRIC_NOTE}**, 200 test architectures; mean ± std over "
         "trials (std blank for one trial).", "",
         "NASLib's own `PredictorEvaluator` (unchanged) runs every predictor; a thin subclass "
         "replaces only its `load_dataset`, so that all predictors of a trial see the same "
         "stored architectures (`splits/<protocol>-t<trial>.json`). NASLib's predictors use "
         "its default hyperparameters (`max_hpo_time: 0`, `hparams_from_file: False`).", "",
         "Protocols:", ""]
    for p, d in PROTOCOLS.items():
        L.append(f"- **({p})** {d}")
    L += ["", "Baselines: `params` = parameter count of the full NB101 network (the table's "
          "exact count, = `motifs.count_parameters(cell, 'full')`); `flops` and `synflow` = "
          "NASLib's `ZeroCost` on NASLib's full NB101 network (`graph.parse()` as NASLib's "
          "zero-cost evaluator does), fed a batch of **random tensors** (64x3x32x32; flops "
          "reads only the shape, synflow replaces the input by ones): no CIFAR-10 data. "
          "They need no training set: evaluated once per trial and shown as train size 0, "
          "initialization time 0.", "",
          "Initialization time = NB101 training time of the training architectures (TPU v2 "
          "seconds, summed over all of them including repeats, as NASLib charges it) + "
          "measured fit time. The table has real times for 30,001 cells only; for the "
          "others the time is estimated:", ""]
    if timemodel:
        L += [f"- `{timemodel['model']}` (least squares on the "
              f"{timemodel['cells_with_real_time']:,} cells with a time)",
              f"- held out (fit on {timemodel['fit_cells']:,}, tested on "
              f"{timemodel['held_out_cells']:,} cells with real times): median |relative "
              f"error| {timemodel['held_out_median_abs_rel_error']:.1%}, mean "
              f"{timemodel['held_out_mean_abs_rel_error']:.1%}, R² of log time "
              f"{timemodel['held_out_r2_log']:.3f}, sum of estimates / sum of real times "
              f"{timemodel['held_out_total_time_ratio']:.3f}", ""]
    if splits:
        L += ["Splits (distinct cells by pruned hash; `train` = the largest training set):", "",
              "| protocol | trial | test distinct / test size | train distinct / largest "
              "train size | train cells also in test |",
              "|---|---|---|---|---|"]
        for s in splits:
            st = s["stats"]
            L.append(f"| {s['protocol']} | {s['trial']} | {st['test_distinct']} / {st['test']} | "
                     f"{st['train_distinct']} / {st['train']} | {st['train_in_test']} |")
        L.append("")
    fails = [r for r in rows if r["status"] != "ok"]
    for p in PROTOCOLS:
        ss = [s for s in summary if s["protocol"] == p]
        if not ss:
            continue
        sizes = sorted({s["train_size"] for s in ss})
        names = sorted({s["predictor"] for s in ss})
        L += [f"## Protocol ({p}): {PROTOCOLS[p]}", "",
              f"Kendall tau vs {METRIC_NOTE}, mean ± std over trials (size 0: zero-cost, "
              "no training set):", "",
              "| predictor | " + " | ".join(f"n={n}" for n in sizes) + " |",
              "|---|" + "---|" * len(sizes)]
        idx = {(s["predictor"], s["train_size"]): s for s in ss}
        for name in names:
            cells = [(_pm(idx[(name, n)]["kendalltau"]) + f" ({_trials(idx[(name, n)])})")
                     if (name, n) in idx else "" for n in sizes]
            L.append(f"| {label(name)} | " + " | ".join(cells) + " |")
        L += ["", "(in brackets: trials finished; \"k of m\": in m - k finished trials the "
              "correlations were undefined, see \"Failed or skipped runs\", and the mean is "
              "over the other k)", "",
              f"All metrics (vs {METRIC_NOTE}); fit time in s; query time in s per "
              "architecture; init = NB101 training time + fit, in s:", "",
              "| predictor | n | trials | Kendall | Spearman | Pearson | fit (s) | query (s/arch) "
              "| init (s) | distinct train cells |", "|---|---|---|---|---|---|---|---|---|---|"]
        for s in sorted(ss, key=lambda s: (s["train_size"], s["predictor"])):
            L.append(f"| {label(s['predictor'])} | {s['train_size']} | {_trials(s)} | "
                     f"{_pm(s['kendalltau'])} | {_pm(s['spearman'])} | {_pm(s['pearson'])} | "
                     f"{_secs(s['fit_time']['mean'])} | {_secs(s['query_time']['mean'])} | "
                     f"{_secs(s['init_seconds']['mean'])} | "
                     f"{s['train_distinct']['mean']:.0f} |")
        L += ["", f"Figures: `comparison_{p}_init.png` (Kendall tau vs initialization time), "
              f"`comparison_{p}_query.png` (vs query time), `comparison_{p}_pareto.png` (best "
              "predictor per init x query budget).", ""]
    # time per predictor (wall seconds of one job incl. NASLib's data handling) per size
    ok = [r for r in rows if r["status"] == "ok"]
    if ok:
        sizes = sorted({int(r["train_size"]) for r in ok})
        names = sorted({r["predictor"] for r in ok})
        L += ["## Measured time per job", "",
              "Fit + query of 200 architectures, seconds, mean over the finished jobs of all "
              "protocols (`fit_time + 200 x query_time`; this machine, shared with other "
              "work):", "", "| predictor | " + " | ".join(f"n={n}" for n in sizes) + " |",
              "|---|" + "---|" * len(sizes)]
        for name in names:
            cells = []
            for n in sizes:
                v = [(r["fit_time"] or 0) + 200 * (r["query_time"] or 0) for r in ok
                     if r["predictor"] == name and int(r["train_size"]) == n]
                cells.append(_secs(float(np.mean(v))) if v else "")
            L.append(f"| {label(name)} | " + " | ".join(cells) + " |")
        L.append("")
    done = {job_key(r) for r in rows}
    missing = defaultdict(list)
    for protos, sizes, names in FULL_PLAN:
        for j in plan(protos, sizes, names, [0, 1, 2]):
            k = (j["protocol"], j["predictor"], j["size"], j["trial"])
            if k not in done:
                missing[(j["protocol"], j["predictor"])].append(j["size"])
    L += ["## Not run yet", ""]
    if missing:
        L += ["Jobs of the plan (see notes) with no result yet, per protocol: predictors "
              "-> training-set sizes (x trials missing; 0 = zero-cost, once per trial).", ""]
        pattern = defaultdict(list)
        for (p, name), ns in sorted(missing.items()):
            c = defaultdict(int)
            for n in ns:
                c[n] += 1
            pattern[(p, ", ".join(f"{n} (x{k})" for n, k in sorted(c.items())))].append(name)
        for p in PROTOCOLS:
            for (pp, sizes), names in sorted(pattern.items()):
                if pp == p:
                    L.append(f"- ({p}) {', '.join(names)}: {sizes}")
        L.append("")
    else:
        L.append("Nothing: the plan is complete.")
    L += ["## Failed or skipped runs", ""]
    undefined = [r for r in rows if r["status"] == "ok" and r.get("kendalltau") is None]
    if fails or undefined:
        L += ["| protocol | predictor | n | trial | error |", "|---|---|---|---|---|"]
        for r in fails:
            L.append(f"| {r['protocol']} | {r['predictor']} | {r['train_size']} | {r['trial']} "
                     f"| {r.get('error', '')[:200].replace('|', '/')} |")
        for r in undefined:
            L.append(f"| {r['protocol']} | {r['predictor']} | {r['train_size']} | {r['trial']} "
                     "| finished, but Kendall / Spearman / Pearson undefined: NASLib's evaluator "
                     "returned NaN (the predictions were constant or not finite; "
                     f"MAE {r.get('mae') or float('nan'):.2f}) |")
    else:
        L.append("None so far.")
    L.append(NOTES)
    return "\n".join(L)


def cmd_report(args):
    work = Path(args.work)
    committed, old_splits = read_committed(args.results)
    rows = merge_rows(committed, read_results(work))  # last line wins (--retry-failed)
    if not rows:
        sys.exit(f"no results under {work} or in {args.results / 'comparison.json'}")
    summary = summarize(rows)
    tm = json.loads((work / "timemodel.json").read_text()) \
        if (work / "timemodel.json").exists() else committed_timemodel(args.results)
    splits = {(s["protocol"], s["trial"]): s for s in old_splits}
    for f in sorted((work / "splits").glob("*.json")):
        s = json.loads(f.read_text())
        splits[(s["protocol"], s["trial"])] = {
            "protocol": s["protocol"], "trial": s["trial"], "drawn_by": s["drawn_by"],
            "stats": {**split_stats(s), **s["stats"]}}
    splits = [splits[k] for k in sorted(splits)]
    figs = [p for proto in PROTOCOLS for p in plots(summary, proto, args.results)]
    md = markdown(summary, rows, tm, splits, args)
    from benchmarks.search_comparison import comparison_section
    search = comparison_section(args.results)
    md = md.rstrip("\n") + "\n\n" + search if search else md
    extra = Path(args.notes).read_text() if args.notes and Path(args.notes).exists() else ""
    (args.results / "COMPARISON.md").write_text(md + ("\n" + extra if extra else ""))
    path = harness.save_json(args.results / "comparison.json", {
        "metric": METRIC_NOTE, "protocols": PROTOCOLS, "timemodel": tm, "splits": splits,
        "summary": summary, "runs": sorted(rows, key=job_key)})
    print(f"wrote {args.results / 'COMPARISON.md'}, {path} and {len(figs)} figures")


def main():
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run (resumable) and append results to WORK/results.jsonl")
    r.add_argument("--protocols", nargs="+", choices=sorted(PROTOCOLS), default=["c", "b"])
    r.add_argument("--sizes", nargs="+", type=int, default=[14, 42, 121, 347, 1000],
                   help=f"training-set sizes (White et al.'s grid: {SIZES})")
    r.add_argument("--trials", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--predictors", nargs="+", default=["fast"],
                   help=f"names, or 'fast' ({' '.join(FAST)}) / 'slow' ({' '.join(SLOW)}) / "
                   f"'paper' ({' '.join(PAPER)}); the paper's method is '{PAPER_METHOD}' "
                   "(~1 h fit at 1,000 on 2 cores, run at 1,000 only)")
    r.add_argument("--test-size", type=int, default=200)
    r.add_argument("--max-train", type=int, default=1000,
                   help="size of the stored training split (sizes are its prefixes)")
    r.add_argument("--timeout", type=float, default=3600,
                   help="seconds per job before the worker is killed and the job recorded "
                   "as failed (larger sizes of that predictor are then skipped)")
    r.add_argument("--dish-workers", type=int, default=1,
                   help="motif worker processes of the petridish predictors (0 = one per "
                   "core; default 1: the machine is shared)")
    r.add_argument("--ignore-committed", action="store_true",
                   help="run again jobs already recorded in the committed comparison.json")
    r.add_argument("--retry-failed", action="store_true",
                   help="run again jobs recorded as failed or skipped")
    harness.add_nb101_argument(r)
    r.add_argument("--work", default="runs/comparison", help="state folder (outside git)")
    r.set_defaults(fn=cmd_run)
    p = sub.add_parser("report", help="COMPARISON.md, comparison.json and figures")
    p.add_argument("--work", default="runs/comparison")
    p.add_argument("--notes", default=None, help="markdown appended to COMPARISON.md")
    p.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
