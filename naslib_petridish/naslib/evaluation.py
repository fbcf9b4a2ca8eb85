"""NASLib's predictor-evaluation flow (its ``PredictorEvaluator``, config format and
``errors.json``) on NB101 ground truth, and the config loading it shares with search."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from .. import rundir
from ..errors import ConfigError, OutputExistsError, RunDirError
from ..outer import RESUMABLE_CHANGES
from ..protocols import draw_distinct, overlap_stats, resolve_protocol, split_uniform
from .compat import import_naslib
from .dataset import api_metric, make_dataset_api, open_table
from .predictors import get_predictor


def load_naslib_config(path: str, config_type: str, space: str | None = None,
                       dataset: str | None = None):
    """NASLib's default config of ``config_type`` overlaid with the user's file, with
    ``save`` set as NASLib's ``get_config_from_args`` does; ``space`` (``nb101``,
    ``nb201``) and ``dataset`` override the file's ``search_space`` and ``dataset``."""
    nl = import_naslib()
    if not os.path.exists(path):
        raise ConfigError(f"config file not found: {path}")
    default = nl.utils.load_default_config(config_type=config_type)
    try:
        user = nl.utils.load_config(path)
    except Exception as exc:
        raise ConfigError(f"{path}: not a NASLib config ({type(exc).__name__}: {exc})") from exc
    # like NASLib's get_config_from_args: the user's file is the config; keys it lacks
    # (and sub-keys of `search`) come from NASLib's defaults, without yacs' type checks
    user.set_new_allowed(True)
    for k, v in default.items():
        if k not in user:
            user[k] = v
        elif k == "search" and isinstance(v, dict):
            for k2, v2 in v.items():
                if k2 not in user.search:
                    user.search[k2] = v2
    cfg = user
    if space:
        from ..spaces import get_space
        cfg.search_space = get_space(space).naslib_name
    if dataset:
        cfg.dataset = dataset
    cfg.search_space = cfg.get("search_space", "nasbench101")
    if cfg.search_space not in ("nasbench101", "nasbench201"):
        raise ConfigError(f"{path}: search_space is '{cfg.search_space}'; naslib-petridish "
                          "supports nasbench101 and nasbench201")
    if cfg.search_space == "nasbench101":
        if cfg.get("dataset") not in (None, "", "cifar10"):
            raise ConfigError(f"{path}: NAS-Bench-101 has the data set cifar10 only, not "
                              f"'{cfg.dataset}'")
        cfg.dataset = "cifar10"
    elif not cfg.get("dataset"):
        cfg.dataset = "cifar10"
    cfg.search.seed = cfg.seed
    return cfg


def space_of_config(cfg) -> str:
    """Our name of the config's NASLib search space (``nb101``, ``nb201``)."""
    return "nb201" if cfg.search_space == "nasbench201" else "nb101"


def naslib_search_space(nl, cfg, spec_only: bool = False):
    """An empty NASLib search space of the config's kind (NB201: its data set's classes).

    ``spec_only``: no torch network per architecture (``instantiate_model = False``), and on
    NB201 the space of :func:`spec_only_nb201`, whose copies share the template's unused
    network instead of deep-copying it."""
    if space_of_config(cfg) == "nb201":
        from ..spaces.nb201.table import NUM_CLASSES
        cls = spec_only_nb201(nl) if spec_only else nl.NasBench201SearchSpace
        space = cls(n_classes=NUM_CLASSES.get(cfg.dataset, 10))
    else:
        space = nl.NasBench101SearchSpace()
    if spec_only:
        space.instantiate_model = False
    return space


_SPEC_ONLY = {}


def spec_only_nb201(nl) -> type:
    """NASLib's NasBench201SearchSpace for searches that never build a network: ``clone``
    makes a shallow copy that keeps only its own op indices instead of deep-copying the
    template's torch network (0.6 s a copy), which nothing reads once ``instantiate_model``
    is False: NASLib's NB201 ``set_op_indices``, ``query``, ``get_hash`` and ``mutate`` then
    read and write ``op_indices`` alone.  A deep copy draws no random number, so the
    searches make the same draws and get the same answers, faster (RE, 300 queries: 133 s
    to 7 s).  ``get_nbhd`` (local search's neighbours) is NASLib's own: it constructs each
    neighbour, and a construction draws from Python's ``random``, which then orders them."""
    if "cls" not in _SPEC_ONLY:
        import copy

        base = nl.NasBench201SearchSpace

        class SpecOnlyNasBench201(base):
            def clone(self):
                if self.instantiate_model:
                    return super().clone()
                new = copy.copy(self)  # a new __dict__ holding the same values
                new.op_indices = None if self.op_indices is None else list(self.op_indices)
                return new

        _SPEC_ONLY["cls"] = SpecOnlyNasBench201
    return _SPEC_ONLY["cls"]


def arch_spec(table, h: str):
    """What NASLib's ``set_spec`` takes for the table's cell ``h``: NB101's hash, NB201's
    op-index list (NASLib's order)."""
    if getattr(table, "space", "nb101") == "nb201":
        return list(table.cell(h).naslib_tuple())
    return h


#: one line per finished (training-set size, fidelity): what an interrupted run keeps
EVALUATED = "evaluated_sizes.jsonl"
#: the dish of each size, checkpointed every outer epoch while it is generated
DISH_RUNS = "dish_runs"


def run_predictor_evaluation(config_file: str, nb101: str | None = None,
                             metric: str | None = None, out_dir: str | None = None,
                             resume: bool = False, force: bool = False,
                             protocol: str | None = None, nb201: str | None = None,
                             space: str | None = None, dataset: str | None = None) -> Path:
    """NASLib's predictor-evaluation flow on NB101 or NB201 (the config's ``search_space``
    and ``dataset``); returns the path of ``errors.json``.

    On NB201 the predictors learn from ``metric`` (default validation accuracy) and are
    scored against the test accuracy of the test cells (the published protocol; NASLib's
    own NB201 query reads one accuracy for both).

    ``protocol`` (:mod:`naslib_petridish.protocols`) says how the test and training
    architectures are drawn: ``naslib`` (default; NASLib's ``load_dataset`` as is, which on
    NB101 repeats cells and lets training cells be test cells), ``distinct`` (NASLib's
    sampler without repeats, disjoint) or ``uniform`` (distinct cells drawn uniformly,
    disjoint; with seed s, metric test, test size 200 and largest training size 1,000 the
    split of ``benchmarks/predictor_comparison.py``'s protocol c, trial s). Each size's result
    records ``test_distinct``, ``train_distinct`` and ``train_in_test``.

    NASLib writes ``errors.json`` only after the last training-set size, so each finished
    size is also appended to ``evaluated_sizes.jsonl`` in the same folder, and a dish
    being generated is checkpointed every outer epoch (``dish_runs/``). ``resume``
    continues an interrupted run: finished sizes are read back (after checking that the
    config and the architectures NASLib draws are the same), a killed dish fit continues.
    (The dish presets seed their own random streams, so a resumed size gives what an
    uninterrupted run gives; NASLib's own predictors draw from the global generators, whose
    state after skipped sizes differs.) An earlier run's results are replaced only with
    ``force``."""
    nl = import_naslib()
    cfg = load_naslib_config(config_file, "predictor", space, dataset)
    if out_dir:
        cfg.out_dir = out_dir
    cfg.save = f"{cfg.out_dir}/{cfg.dataset}/predictors/{cfg.predictor}/{cfg.seed}"
    # the protocol is part of the config: recorded in errors.json, checked on --resume
    cfg.sampling_protocol = resolve_protocol(protocol or cfg.get("sampling_protocol")
                                             or "naslib")
    if cfg.sampling_protocol != "naslib" and (cfg.get("load_labeled")
                                              or not cfg.get("uniform_random", 1)):
        raise ConfigError(
            f"{config_file}: sampling protocol '{cfg.sampling_protocol}' draws its own "
            "architectures; it does not combine with load_labeled or uniform_random: 0 "
            "(NASLib's mutated test sets): use --protocol naslib for those")
    table = open_table(nb101, space_of_config(cfg), nb201, cfg.dataset)
    api = make_dataset_api(table, metric)
    # recorded in errors.json (NASLib writes the config as its first entry)
    cfg.ground_truth_source = str(table.source)
    cfg.ground_truth_metric = api_metric(api)
    if table.space == "nb201":
        cfg.ground_truth_target = "test"
    save = Path(cfg.save)
    with rundir.hold(save):
        done = _earlier_sizes(save, _run_digest(cfg), resume, force)
        nl.utils.setup_logger(cfg.save + "/log.log")
        nl.utils.set_seed(cfg.seed)
        predictor = get_predictor(cfg.predictor, cfg, table=table)
        evaluator = _resumable_evaluator(nl)(predictor, config=cfg)
        evaluator.done, evaluator.run_digest = done, _run_digest(cfg)
        evaluator.table = table
        # NB201: architectures without a torch network each (a deep copy of NASLib's
        # template per architecture costs 0.6 s); no predictor reads it there (ours read the
        # cell, NASLib's its encodings; the zero-cost wrappers build NB101 networks only)
        spec_only = table.space == "nb201"
        evaluator.adapt_search_space(naslib_search_space(nl, cfg, spec_only=spec_only),
                                     load_labeled=False, dataset_api=api)
        try:
            evaluator.evaluate()
        finally:
            if hasattr(predictor, "close"):
                predictor.close()
    return save / "errors.json"


def _run_digest(cfg) -> str:
    """What decides a size's result besides its architectures: the whole config except
    where it is written and how many worker processes run."""
    skip = {"save", "out_dir", "ground_truth_source"}
    d = {k: v for k, v in cfg.items() if k not in skip}
    if isinstance(d.get("petridish"), dict):
        d["petridish"] = {k: v for k, v in d["petridish"].items()
                          if k not in RESUMABLE_CHANGES}
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _earlier_sizes(save: Path, run: str, resume: bool, force: bool) -> dict:
    """The finished sizes of an earlier run in ``save`` that ``resume`` continues; an
    earlier run is otherwise refused, or with ``force`` removed."""
    record = save / EVALUATED
    if not (record.exists() or (save / "errors.json").exists() or (save / DISH_RUNS).exists()):
        return {}
    if force:
        for name in (EVALUATED, "errors.json"):
            (save / name).unlink(missing_ok=True)
        shutil.rmtree(save / DISH_RUNS, ignore_errors=True)
        return {}
    if not resume:
        raise OutputExistsError(
            f"{save} holds the results of an earlier run; pass --resume to continue it (its "
            "finished training-set sizes are kept) or --force to start over")
    done = {}
    if record.exists():
        for i, line in enumerate(record.read_text().splitlines()):
            try:
                row = json.loads(line)
                key, row_run = row["key"], row["run"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill: that size is evaluated again
            if row_run != run:
                raise RunDirError(
                    f"cannot resume {save}: line {i + 1} of {EVALUATED} was evaluated with "
                    "another config; resume with the same config file, or use another --out")
            done[key] = row
    return done


def _arch_hashes(archs, space: str = "nb101") -> list[str]:
    from ..spaces import as_cell
    return [as_cell(a, space).hash for a in archs]


def _arch_keys(archs, space: str = "nb101") -> list[str]:
    """Canonical forms (distinct functions) of NASLib architectures."""
    from ..spaces import as_cell
    return [as_cell(a, space).key for a in archs]


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (np.ndarray, set, tuple)):
        return list(v)
    return str(v)


def _resumable_evaluator(nl):
    """NASLib's ``PredictorEvaluator`` that keeps each finished size and reuses it."""

    class ResumableEvaluator(nl.PredictorEvaluator):
        done: dict = {}
        run_digest = ""
        table = None  # the ground truth (protocol 'uniform' draws from it)

        def load_dataset(self, load_labeled=False, data_size=10, arch_hash_map={}):
            """NASLib's, or the architectures of the config's ``sampling_protocol``: the
            evaluator calls it for the test set, then the training set, then (SemiNAS)
            unlabelled data; every call after the first avoids the cells drawn before."""
            protocol = getattr(self.config, "sampling_protocol", "naslib")
            if protocol == "naslib":
                return super().load_dataset(load_labeled, data_size, arch_hash_map)
            from ..spaces import as_cell
            space = getattr(self.table, "space", "nb101")
            if not hasattr(self, "_drawn"):
                self._drawn, self._calls = set(), 0
            self._calls += 1
            if protocol == "uniform":
                hashes = self._uniform_hashes(data_size)
                self._drawn.update(hashes)
                archs = []
                for h in hashes:
                    arch = self.search_space.clone()
                    arch.set_spec(arch_spec(self.table, h), dataset_api=self.dataset_api)
                    archs.append(arch)
            else:  # distinct: NASLib's sampler; a cell drawn before is skipped
                def sample():
                    arch = self.search_space.clone()
                    arch.sample_random_architecture(dataset_api=self.dataset_api)
                    # distinct by function (NB101's hash is its canonical form)
                    return {"hash": as_cell(arch, space).key, "arch": arch}
                archs = [x["arch"] for x in draw_distinct(sample, data_size, self._drawn)[0]]
            data = [[], [], [], []]
            for arch in archs:
                arch_hash_map[arch.get_hash()] = True
                accuracy, train_time, info = self.get_full_arch_info(arch)
                for part, v in zip(data, (arch, accuracy, info, train_time)):
                    part.append(v)
            return data, arch_hash_map

        def _uniform_hashes(self, n: int) -> list[str]:
            """1st call: the test set of :func:`split_uniform` for the largest training
            size; 2nd: a prefix of its training list; later: fresh uniform draws."""
            cfg, table = self.config, self.table
            metric = api_metric(self.dataset_api)
            if self._calls <= 2:
                # the training-set size NASLib's evaluate() draws (its own rule)
                n_train = int(cfg.train_size_list[-1]
                              if getattr(cfg, "experiment_type", "single")
                              in ("vary_train_size", "vary_both")
                              else cfg.train_size_single)
                if not hasattr(self, "_split"):
                    self._split = split_uniform(table, int(cfg.test_size), n_train,
                                                int(cfg.seed), metric=metric)
                part = self._split["test" if self._calls == 1 else "train"]
                return [x["hash"] for x in part[:n]]
            rng = np.random.default_rng([int(cfg.seed), n, 0x5E])
            rows = table.sample(n, rng=rng, metric=metric,
                                exclude=table.indices(sorted(self._drawn)))
            return [str(table.hashes[r]) for r in rows]

        def single_evaluate(self, train_data, test_data, fidelity):
            save = Path(self.config.save)
            key = f"n{len(train_data[0])}-f{fidelity}"
            space = getattr(self.table, "space", "nb101")
            train_h = _arch_hashes(train_data[0], space)
            test_h = _arch_hashes(test_data[0], space)
            if space == "nb201" and api_metric(self.dataset_api) != "test":
                # scored against the test accuracy (percent, as NASLib's NB201 values)
                test_data = (test_data[0], [100 * self.table.metric(h, "test") for h in test_h],
                             *test_data[2:])
            data = hashlib.sha1(json.dumps([train_h, test_h]).encode()).hexdigest()
            if key in self.done:
                if self.done[key]["data"] != data:
                    raise RunDirError(
                        f"cannot resume {save}: NASLib drew other architectures for {key} than "
                        "the recorded run (another NASLib or library version?); start over "
                        "with --force, or use another --out")
                self.results.append(self.done[key]["result"])
                return
            pred = self.predictor
            if getattr(pred, "generates_dish", False):
                pred.out_dir, pred.resume = save / DISH_RUNS / key, True
            super().single_evaluate(train_data, test_data, fidelity)
            res = self.results[-1]
            res.update(sampling_protocol=getattr(self.config, "sampling_protocol", "naslib"),
                       **overlap_stats(_arch_keys(train_data[0], space),
                                       _arch_keys(test_data[0], space)))
            if getattr(pred, "fit_start", ""):
                res[f"{getattr(pred, 'label', 'petridish')}_fit_start"] = pred.fit_start
                if pred.fit_start != "new":
                    # NASLib timed this call only; killed calls generated most of the dish
                    res["fit_time"] = float(pred.fit_seconds)
            rundir.append_line(save / EVALUATED, json.loads(json.dumps(
                {"key": key, "run": self.run_digest, "data": data, "result": res},
                default=_jsonable)))

    return ResumableEvaluator
