"""The NASLib side of ``benchmarks/predictor_comparison.py``: a worker process that holds
NASLib, the ground-truth table as NASLib's dataset API and the stored splits, and evaluates
one (protocol, predictor, training-set size, trial) job at a time with NASLib's own
``PredictorEvaluator`` (a thin subclass replaces only its ``load_dataset``).  The process
is spawned, killed on timeout or crash and started again for the next job
(:class:`WorkerProcess`).  NASLib is imported in the worker process only: importing this
module does not need it.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from benchmarks import harness
from naslib_petridish.protocols import (split_fingerprint, split_from_sampler, split_stats,
                                        split_uniform)

#: the paper's shortened presets at smaller sizes: outer epochs = ceil(size / 6), so that
#: every training architecture is used once (the paper: 170 x 6 = 1,020)
SIZE_SCALED = ("petridish-b-short",)


class Worker:
    """Everything that needs NASLib: the table as its dataset API, the splits as NASLib
    architectures (cached per (protocol, trial)), the predictors and the evaluator."""

    def __init__(self, nb101, work: Path, test_size: int, max_train: int,
                 dish_workers: int = 1):
        from naslib_petridish.naslib import import_naslib, make_dataset_api
        from naslib_petridish.search_cost import CellFeaturesTimeModel

        self.nl = import_naslib()
        self.table = harness.ground_truth(nb101)
        self.api = make_dataset_api(self.table, metric="test")
        self.work, self.test_size, self.max_train = work, test_size, max_train
        self.dish_workers = dish_workers
        self.timemodel = CellFeaturesTimeModel(self.table)
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
