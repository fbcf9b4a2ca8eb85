"""Issue 25: which features and which models rank held-out NB101 cells from few labels.

Protocol (c) of COMPARISON.md: for trial t, 200 test cells then 1,000 training cells drawn
uniformly over the distinct NB101 cells, disjoint (``predictor_comparison.split_uniform``,
the same splits as COMPARISON.md); training sets of 100, 424 and 1,000 are prefixes.
Ground truth: 108-epoch test accuracy (repeat 0).

    # 1. features of the 3 x 1,200 cells (resumable, cached outside git)
    python -m benchmarks.ranking_features features --dish untrained-c5
    # 2. every model x feature set x size x trial -> benchmarks/results/ranking_features.json
    python -m benchmarks.ranking_features models
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks import harness
from benchmarks.predictor_comparison import split_uniform

WORK = Path("runs/ranking_features")
TRIALS = (0, 1, 2)
#: trials for choosing models and settings; the reported figures use TRIALS only
DEV_TRIALS = (10, 11)
SIZES = (100, 424, 1000)
TEST, TRAIN = 200, 1000
#: dish variants: (preset, overrides); the dish itself is the preset's seeded initial dish
DISHES = {
    "untrained-c5": ("untrained-dish-tse", {}),
    "untrained-c10": ("untrained-dish-tse", {"inner_epochs": 10}),
    "untrained-b5": ("untrained-dish-tse", {"motif": "B"}),
}


def splits(table, trials=TRIALS + DEV_TRIALS):
    return {t: split_uniform(table, TEST, TRAIN, t) for t in trials}


def pool(table) -> list[str]:
    """Every cell of every trial's split (reported trials first), in a fixed order."""
    seen: dict[str, None] = {}
    for s in splits(table).values():
        for part in ("test", "train"):
            for x in s[part]:
                seen.setdefault(x["hash"], None)
    return list(seen)


def cmd_features(args):
    from naslib_petridish.config import resolve_config
    from naslib_petridish.dish import Dish
    from naslib_petridish.features import dish_features, encoding, free_features, path_encoding
    from naslib_petridish.outer import score_cells
    from naslib_petridish.predictor import SyntheticPetriDishPredictor

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    table = harness.ground_truth(args.nb101)
    hashes = pool(table)
    cells = [table.cell(h) for h in hashes]
    static = work / "static.npz"
    if not static.exists() or list(np.load(static)["hashes"]) != hashes:
        t0 = time.time()
        blocks = [f(cells) for f in (encoding, path_encoding, free_features)]
        np.savez(static, hashes=np.array(hashes), y=table.metric(table.indices(hashes), "test"),
                 **{f"x_{k}": b[0] for k, b in zip(("encoding", "path", "free"), blocks)},
                 **{f"n_{k}": np.array(b[1]) for k, b in zip(("encoding", "path", "free"), blocks)})
        print(f"static features of {len(cells)} cells in {time.time() - t0:.0f} s", flush=True)
    for name in args.dish:
        preset, over = DISHES[name]
        cfg = resolve_config(preset, overrides={**over, "workers": args.workers})
        dish = Dish.create(cfg)
        out = work / f"dish_{name}.npz"
        done = dict(np.load(out, allow_pickle=False)) if out.exists() else {}
        have = list(done.get("hashes", []))
        pred = SyntheticPetriDishPredictor(config=cfg, table=table)
        runner = pred._get_runner()
        x = [done["x"]] if have else []
        secs = [done["seconds"]] if have else []
        names = None
        try:
            for i in range(len(have), len(cells), args.chunk):
                chunk = cells[i:i + args.chunk]
                t0 = time.time()
                res = score_cells(dish, chunk, runner)
                f, names = dish_features(res)
                x.append(f)
                secs.append(np.array([r.train_seconds for r in res]))
                have += [c.hash for c in chunk]
                np.savez(str(out) + ".tmp.npz", hashes=np.array(have), x=np.concatenate(x),
                         names=np.array(names), seconds=np.concatenate(secs))
                Path(str(out) + ".tmp.npz").replace(out)
                print(f"{name}: {len(have)}/{len(cells)} cells, "
                      f"{(time.time() - t0) / len(chunk):.2f} s/cell", flush=True)
        finally:
            pred.close()


# --- models -----------------------------------------------------------------------------

FEATURE_SETS = {
    "free": ["free"],
    "free+dish": ["free", "dish"],
    "enc": ["encoding"],
    "enc+free": ["encoding", "free"],
    "enc+free+dish": ["encoding", "free", "dish"],
    "path+free": ["path", "free"],
    "path+free+dish": ["path", "free", "dish"],
    "enc+path+free": ["encoding", "path", "free"],
    "enc+path+free+dish": ["encoding", "path", "free", "dish"],
    "dish": ["dish"],
}


def load_features(work: Path, dish: str):
    st = np.load(work / "static.npz")
    hashes = list(st["hashes"])
    blocks = {k: (st[f"x_{k}"], list(st[f"n_{k}"])) for k in ("encoding", "path", "free")}
    d = np.load(work / f"dish_{dish}.npz")
    pos = {h: i for i, h in enumerate(d["hashes"])}
    if len(pos) < len(hashes):
        print(f"dish features of {dish}: {len(pos)} of {len(hashes)} cells so far; "
              "feature sets with the dish are left out")
    else:
        blocks["dish"] = (d["x"][[pos[h] for h in hashes]], list(d["names"]))
    return hashes, st["y"], blocks


def make_model(name: str, seed: int):
    if name == "xgb":
        import xgboost as xgb
        return xgb.XGBRegressor(n_estimators=500, learning_rate=0.03, max_depth=4,
                                subsample=0.8, colsample_bytree=0.6, min_child_weight=1,
                                n_jobs=1, random_state=seed)
    if name == "lgb":
        import lightgbm as lgb
        return lgb.LGBMRegressor(n_estimators=500, learning_rate=0.03, num_leaves=15,
                                 min_child_samples=5, subsample=0.8, subsample_freq=1,
                                 colsample_bytree=0.6, n_jobs=1, random_state=seed, verbose=-1)
    if name.startswith("lgb-"):  # lgb-<leaves>-<min_child>-<trees>
        import lightgbm as lgb
        _, leaves, mc, trees = name.split("-")
        return lgb.LGBMRegressor(n_estimators=int(trees), learning_rate=0.03,
                                 num_leaves=int(leaves), min_child_samples=int(mc),
                                 subsample=0.8, subsample_freq=1, colsample_bytree=0.6,
                                 n_jobs=1, random_state=seed, verbose=-1)
    if name == "ens":  # mean of the rank-scaled predictions of lgb, xgb and gp
        return RankEnsemble([make_model(m, seed) for m in ("lgb", "xgb", "gp")])
    if name == "rf":
        from sklearn.ensemble import RandomForestRegressor
        return RandomForestRegressor(n_estimators=500, max_features=0.5, n_jobs=1,
                                     random_state=seed)
    if name == "ridge":
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    if name == "gp":
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, WhiteKernel
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        return make_pipeline(StandardScaler(), GaussianProcessRegressor(
            RBF(length_scale=10.0) + WhiteKernel(0.1), normalize_y=True, random_state=seed))
    raise ValueError(name)


class RankEnsemble:
    def __init__(self, models):
        self.models = models

    def fit(self, X, y):
        for m in self.models:
            m.fit(X, y)
        return self

    def predict(self, X):
        from scipy.stats import rankdata
        return np.mean([rankdata(m.predict(X)) for m in self.models], axis=0)


def target(y: np.ndarray, how: str) -> np.ndarray:
    """``raw`` accuracy, or ``rank``: the accuracy's rank in the training set scaled to
    [0, 1] (outliers - cells that failed to train - no longer dominate a squared loss)."""
    if how == "raw":
        return y
    from scipy.stats import rankdata
    return (rankdata(y) - 1) / max(1, len(y) - 1)


def cmd_models(args):
    from scipy.stats import kendalltau, spearmanr

    work = Path(args.work)
    table = harness.ground_truth(args.nb101)
    sp = splits(table, tuple(args.trials))
    out = []
    for dish in args.dish:
        hashes, y, blocks = load_features(work, dish)
        pos = {h: i for i, h in enumerate(hashes)}
        for t in args.trials:
            te = np.array([pos[x["hash"]] for x in sp[t]["test"]])
            tr_all = np.array([pos[x["hash"]] for x in sp[t]["train"]])
            for fs in args.sets:
                if any(b not in blocks for b in FEATURE_SETS[fs]):
                    continue
                X = np.column_stack([blocks[b][0] for b in FEATURE_SETS[fs]])
                for n in args.sizes:
                    tr = tr_all[:n]
                    for m in args.models:
                        for how in args.targets:
                            t0 = time.time()
                            model = make_model(m, t)
                            model.fit(X[tr], target(y[tr], how))
                            p = model.predict(X[te])
                            row = {"dish": dish, "trial": t, "features": fs, "size": n,
                                   "model": m, "target": how,
                                   "kendall": float(kendalltau(p, y[te]).statistic),
                                   "spearman": float(spearmanr(p, y[te]).statistic),
                                   "fit_seconds": time.time() - t0}
                            out.append(row)
                            print(json.dumps(row), flush=True)
    path = work / f"models_{args.tag}.jsonl"
    with open(path, "a") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    summarize_rows(out)


def summarize_rows(rows):
    from collections import defaultdict
    g = defaultdict(list)
    for r in rows:
        g[(r["dish"], r["features"], r["model"], r["target"], r["size"])].append(r["kendall"])
    for k, v in sorted(g.items(), key=lambda kv: (kv[0][4], -np.mean(kv[1]))):
        print(f"{k[4]:5d} {k[0]:14s} {k[1]:20s} {k[2]:6s} {k[3]:4s} "
              f"{np.mean(v):+.3f} +- {np.std(v, ddof=1) if len(v) > 1 else 0:.3f} ({len(v)})")


def main():
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("features")
    f.add_argument("--dish", nargs="*", default=["untrained-c5"], choices=sorted(DISHES))
    f.add_argument("--workers", type=int, default=1)
    f.add_argument("--chunk", type=int, default=100)
    f.add_argument("--work", default=str(WORK))
    harness.add_nb101_argument(f)
    f.set_defaults(fn=cmd_features)
    m = sub.add_parser("models")
    m.add_argument("--dish", nargs="+", default=["untrained-c5"])
    m.add_argument("--sets", nargs="+", default=list(FEATURE_SETS))
    m.add_argument("--models", nargs="+", default=["xgb", "lgb", "rf", "ridge", "gp"])
    m.add_argument("--targets", nargs="+", default=["raw", "rank"])
    m.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    m.add_argument("--tag", default="screen")
    m.add_argument("--trials", nargs="+", type=int, default=list(DEV_TRIALS),
                   help=f"default: the development trials {DEV_TRIALS} (choices are made on "
                   f"these); the reported figures use {TRIALS}")
    m.add_argument("--work", default=str(WORK))
    harness.add_nb101_argument(m)
    m.set_defaults(fn=cmd_models)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
