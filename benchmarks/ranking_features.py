"""Issue 25: which features and which models rank held-out NB101 cells from few labels.

Protocol (c) of COMPARISON.md: for trial t, 200 test cells then 1,000 training cells drawn
uniformly over the distinct NB101 cells, disjoint (``naslib_petridish.protocols
.split_uniform``, the same splits as COMPARISON.md); training sets of 100, 424 and 1,000 are
prefixes.  Ground truth: 108-epoch test accuracy (repeat 0).  RANKING.md lists every
command; in short:

    # 1. features of the cells of every trial (resumable, cached outside git)
    python -m benchmarks.ranking_features features --dish untrained-c5
    # 2. the development screening: model x feature set x size x trial (work folder), then
    #    its table -> benchmarks/results/ranking_screen.json and RANKING.md
    python -m benchmarks.ranking_features models
    python -m benchmarks.ranking_features screen
    # 3. the reported figures, the package's code on trials 0-2 -> ranking_features.json
    python -m benchmarks.ranking_features final

The screening's models and zero-cost features are ``benchmarks.ranking_screen_models``:
the frozen record of that screening, kept as it ran (its graph rankers are not the
package's ``naslib_petridish.ranker.graph``; that module says how they differ).  The
reported figures (``final``, ``timing``) use the package only.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks import harness
# the screening's models and zero-cost features, frozen as they ran (see that module)
from benchmarks.ranking_screen_models import (ZC_NAMES, augmented, make_model, target,
                                              zero_cost_on_dish)
from naslib_petridish.protocols import split_uniform

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


def pool(table, trials=TRIALS + DEV_TRIALS) -> list[str]:
    """Every cell of every trial's split (reported trials first), in a fixed order."""
    seen: dict[str, None] = {}
    for s in splits(table, tuple(trials)).values():
        for part in ("test", "train"):
            for x in s[part]:
                seen.setdefault(x["hash"], None)
    return list(seen)


def cmd_zero_cost(args):
    import torch
    from naslib_petridish.config import resolve_config
    from naslib_petridish.dish import Dish

    torch.set_num_threads(1)
    work = Path(args.work)
    table = harness.ground_truth(args.nb101)
    hashes = pool(table)
    dish = Dish.create(resolve_config("untrained-dish-tse"))
    out = work / "dish_zc.npz"
    rows = []
    t0 = time.time()
    for i, h in enumerate(hashes):
        rows.append(zero_cost_on_dish(table.cell(h), dish.images, dish.labels))
        if (i + 1) % 500 == 0:
            print(f"zc: {i + 1}/{len(hashes)} cells, {(time.time() - t0) / (i + 1):.3f} s/cell",
                  flush=True)
    np.savez(out, hashes=np.array(hashes), x=np.array(rows), names=np.array(ZC_NAMES),
             seconds=np.full(len(hashes), (time.time() - t0) / len(hashes)))


def cmd_features(args):
    from naslib_petridish.config import resolve_config
    from naslib_petridish.dish import Dish
    from naslib_petridish.spaces.nb101_features import encoding, free_features, path_encoding
    from naslib_petridish.ranker.sources import curve_features as dish_features
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
        want = set(pool(table, args.trials)) if args.trials else None
        todo = [c for c in cells if c.hash not in set(have) and (want is None or c.hash in want)]
        try:
            for i in range(0, len(todo), args.chunk):
                chunk = todo[i:i + args.chunk]
                t0 = time.time()
                res = score_cells(dish, chunk, runner)
                f, names = dish_features(res)
                x.append(f)
                secs.append(np.array([r.train_seconds for r in res]))
                have += [c.hash for c in chunk]
                np.savez(str(out) + ".tmp.npz", hashes=np.array(have), x=np.concatenate(x),
                         names=np.array(names), seconds=np.concatenate(secs))
                Path(str(out) + ".tmp.npz").replace(out)
                print(f"{name}: {i + len(chunk)}/{len(todo)} cells, "
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
    "enc+path+free+zc": ["encoding", "path", "free", "zc"],
    "enc+path+free+dish+zc": ["encoding", "path", "free", "dish", "zc"],
    "free+zc": ["free", "zc"],
    "zc": ["zc"],
}


def load_features(work: Path, dish: str):
    st = np.load(work / "static.npz")
    hashes = list(st["hashes"])
    blocks = {k: (st[f"x_{k}"], list(st[f"n_{k}"])) for k in ("encoding", "path", "free")}
    d = np.load(work / f"dish_{dish}.npz")
    pos = {h: i for i, h in enumerate(d["hashes"])}
    x = np.full((len(hashes), d["x"].shape[1]), np.nan)
    for i, h in enumerate(hashes):
        if h in pos:
            x[i] = d["x"][pos[h]]
    blocks["dish"] = (x, list(d["names"]))
    zc = work / "dish_zc.npz"
    if zc.exists():
        z = np.load(zc)
        zpos = {h: i for i, h in enumerate(z["hashes"])}
        blocks["zc"] = (np.array([z["x"][zpos[h]] if h in zpos else [np.nan] * z["x"].shape[1]
                                  for h in hashes]), list(z["names"]))
    if len(pos) < len(hashes):
        print(f"dish features of {dish}: {len(pos)} of {len(hashes)} cells so far")
    return hashes, st["y"], blocks


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
                if np.isnan(X[np.concatenate([te, tr_all[:max(args.sizes)]])]).any():
                    print(f"{fs}: features of trial {t} not computed yet, left out")
                    continue
                for n in args.sizes:
                    tr = tr_all[:n]
                    Xtr, ytr = X[tr], y[tr]
                    if args.augment and "encoding" in FEATURE_SETS[fs]:
                        Xtr, ytr = augmented(X, y, tr, hashes, table, blocks, args.augment,
                                             seed=t)
                    for m in args.models:
                        for how in args.targets:
                            t0 = time.time()
                            model = make_model(m, t)
                            model.fit(Xtr, target(ytr, how))
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


# --- the reported figures: the shipped code on the reported trials ----------------------------

#: (label, feature families, graph networks, unlabelled cells of self-training) of the
#: ablation; "dish" = the learning curve of motif C
ABLATION = [
    ("dish-curve-self-trained: dish-curve-boosted, graph networks self-trained on 10,000 "
     "unlabelled cells", ["dish", "free", "path", "encoding"], 3, 10000),
    ("cell-features-self-trained: the same without the dish", ["free", "path", "encoding"],
     3, 10000),
    ("dish-curve-boosted: trees on dish + free + path + encoding, + 3 graph networks",
     ["dish", "free", "path", "encoding"], 3, 0),
    ("cell-features-boosted: the same without the dish", ["free", "path", "encoding"], 3, 0),
    ("trees only: dish + free + path + encoding", ["dish", "free", "path", "encoding"], 0, 0),
    ("trees only: free + path + encoding", ["free", "path", "encoding"], 0, 0),
    ("trees only: dish + free", ["dish", "free"], 0, 0),
    ("trees only: free", ["free"], 0, 0),
    ("trees only: path + encoding", ["path", "encoding"], 0, 0),
    ("trees only: dish", ["dish"], 0, 0),
]
#: the graph networks of these fits scored alone (no trees): label -> ablation label
GRAPH_ALONE = {
    "3 graph networks alone (labelled cells only)":
        "cell-features-boosted: the same without the dish",
    "3 graph networks alone, self-trained":
        "cell-features-self-trained: the same without the dish",
}
#: the presets of the table beside the literature
SHIPPED = 4
#: published Kendall tau on NB101, training on N uniformly drawn cells (PINAT, AAAI 2023,
#: Table 1: NAO, GATES, TNASP, GMAE-NAS, PINAT)
LITERATURE = {"NAO": (0.501, 0.666, 0.775), "GATES": (0.605, 0.691, 0.822),
              "TNASP": (0.600, 0.705, 0.820), "GMAE-NAS": (0.666, 0.732, 0.775),
              "PINAT": (0.679, 0.772, 0.846)}
LITERATURE_SIZES = (100, 424, 4236)


class _Curve:
    """What ``features.dish_features`` reads of a MotifResult, from the cached columns."""

    def __init__(self, losses, accs):
        self.losses, self.accs = list(losses), list(accs)


def curves_from_cache(x: np.ndarray, names: list[str]) -> list[_Curve]:
    li = [i for i, n in enumerate(names) if n.startswith("dish_loss_e")]
    ai = [i for i, n in enumerate(names) if n.startswith("dish_acc_e")]
    return [_Curve(r[li], r[ai]) for r in x]


def cached_ranker(features, graph_members: int, self_training: int, seed: int, curves: dict):
    """The package's ranker on ``features`` (trees, + ``graph_members`` graph networks), its
    ``dish`` source reading the cached curves (by hash) instead of training motifs."""
    from naslib_petridish.ranker import RankerConfig, RankerPredictor

    cfg = RankerConfig(features=list(features),
                       models=["trees", "graph"] if graph_members else ["trees"],
                       graph_members=graph_members, self_training=self_training, seed=seed)
    r = RankerPredictor(config=cfg)
    if "dish" in features:
        r.source("dish").preload(curves)
    return r


def _final_trial(job):
    """Every row of ``final`` for one trial (a worker process runs one trial)."""
    t, nb101, work, dish = job
    from scipy.stats import kendalltau, spearmanr

    table = harness.ground_truth(nb101)
    sp = splits(table, (t,))
    d = np.load(Path(work) / f"dish_{dish}.npz")
    pos = {h: i for i, h in enumerate(d["hashes"])}
    names = list(d["names"])
    rows = []
    te_h = [x["hash"] for x in sp[t]["test"]]
    tr_h = [x["hash"] for x in sp[t]["train"]]
    cells = {h: table.cell(h) for h in te_h + tr_h}
    y = dict(zip(te_h + tr_h, table.metric(table.indices(te_h + tr_h), "test")))
    cur = dict(zip(te_h + tr_h, curves_from_cache(d["x"][[pos[h] for h in te_h + tr_h]],
                                                  names)))
    yte = np.array([y[h] for h in te_h])
    te_cells, te_cur = [cells[h] for h in te_h], [cur[h] for h in te_h]

    def score(pred, label, n, seconds, extra=None):
        rows.append({"trial": t, "size": n, "method": label,
                     "kendall": float(kendalltau(pred, yte).statistic),
                     "spearman": float(spearmanr(pred, yte).statistic),
                     "model_seconds": seconds, **(extra or {})})
    lp_te = np.log10([table.params[table.index(h)] for h in te_h])
    score(lp_te, "parameter count (free baseline)", 0, 0.0)
    tse_te = np.array([-np.mean(c.losses) for c in te_cur])
    for n in SIZES:
        hs = tr_h[:n]
        ytr = np.array([y[h] for h in hs])
        # the untrained-dish-tse preset: least squares on (TSE, log10 params)
        lp = np.log10([table.params[table.index(h)] for h in hs])
        tse = np.array([-np.mean(cur[h].losses) for h in hs])
        A = np.column_stack([tse, lp, np.ones(n)])
        coef = np.linalg.lstsq(A, ytr, rcond=None)[0]
        score(np.column_stack([tse_te, lp_te, np.ones(len(te_h))]) @ coef,
              "untrained-dish-tse (TSE + log params, linear)", n, 0.0)
        fitted = {}
        for label, fams, graph, st in ABLATION:
            t0 = time.perf_counter()
            r = cached_ranker(fams, graph, st, t, cur)
            r.fit([cells[h] for h in hs], ytr)
            fitted[label] = r
            score(r.query(te_cells), label, n, time.perf_counter() - t0,
                  {"self_training_seconds": r.fitted["self_training"]["seconds"]} if st
                  else None)
            print(f"trial {t} n={n} {label}: tau {rows[-1]['kendall']:+.3f}", flush=True)
        for label, of in GRAPH_ALONE.items():
            score(fitted[of].model("graph").rank(te_cells, None), label, n, 0.0)
    return rows


def cmd_final(args):
    if args.render_only:  # the tables again from ranking_features.json (no refit)
        out = json.loads((args.results / "ranking_features.json").read_text())
        timing = args.results / "ranking_timing.json"
        if timing.exists():
            out["timing"] = json.loads(timing.read_text())
        write_tables(args.results / "RANKING.md", out)
        return
    from concurrent.futures import ProcessPoolExecutor

    d = np.load(Path(args.work) / f"dish_{args.dish}.npz")
    jobs = [(t, args.nb101, args.work, args.dish) for t in TRIALS]
    # one trial per process: every model is single-threaded, so the trials run side by side
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        rows = [r for part in ex.map(_final_trial, jobs) for r in part]
    out = {"protocol": "c: 200 test + N training cells drawn uniformly from the distinct "
           "NB101 cells, disjoint (benchmarks.predictor_comparison.split_uniform, trials "
           f"{list(TRIALS)}); ground truth 108-epoch test accuracy, repeat 0",
           "dish": args.dish, "dish_seconds_per_cell": float(np.mean(d["seconds"])),
           "rows": rows, "literature": {"sizes": LITERATURE_SIZES, "kendall": LITERATURE}}
    timing = args.results / "ranking_timing.json"
    if timing.exists():
        out["timing"] = json.loads(timing.read_text())
    harness.save_json(args.results / "ranking_features.json", out)
    summarize_final(rows)
    write_tables(args.results / "RANKING.md", out)


BEGIN, END = harness.markers("tables", "python -m benchmarks.ranking_features final")


def _pm(v) -> str:
    """Signed mean ± std (ddof 1; mean alone for one trial) of a list of values."""
    s = harness.seed_stats(v)
    return harness.pm(s["mean"], s["std"], digits=3, sign=True)


def tables(out: dict) -> str:
    from collections import defaultdict
    g = defaultdict(list)
    for r in out["rows"]:
        g[(r["method"], r["size"])].append(r)
    methods = list(dict.fromkeys(r["method"] for r in out["rows"]))
    L = ["### Held-out ranking (protocol c, 200 test cells, trials 0-2, mean ± std)", "",
         "| predictor | " + " | ".join(f"Kendall @{n}" for n in SIZES) + " | "
         + " | ".join(f"Spearman @{n}" for n in SIZES) + " |",
         "|---|" + "---|" * (2 * len(SIZES))]
    for m in methods:
        cells = []
        for key in ("kendall", "spearman"):
            for n in SIZES:
                rs = g.get((m, n)) or g.get((m, 0))
                cells.append(_pm([r[key] for r in rs]) if rs else "")
        L.append(f"| {m} | " + " | ".join(cells) + " |")
    L += ["", "### Beside the literature (Kendall tau; ours: protocol c above, repeat-0 test "
          "accuracy, 200 test cells; theirs: all other NB101 cells)", "",
          "| predictor | @100 | @424 | @1,000 | @4,236 |", "|---|---|---|---|---|"]
    for name, (a, b, c) in out["literature"]["kendall"].items():
        L.append(f"| {name} (published) | {a:.3f} | {b:.3f} | | {c:.3f} |")
    for label, *_ in ABLATION[:SHIPPED]:
        if label in methods:
            L.append(f"| **{label.split(':')[0]} (ours)** | "
                     + " | ".join(_pm([r["kendall"] for r in g[(label, n)]]) for n in SIZES)
                     + " | not run |")
    L.append("| goal of issue 25 | 0.70 | 0.78 | | |")
    tm = out.get("timing")
    if tm:
        L += ["", f"### Fit and query time of the presets ({tm['machine']}, "
              f"{tm['workers']} motif worker(s), trial 0, end to end through the predictor)", "",
              "| preset | training cells | fit (s) | of which calibration (s) | query (s/arch) | "
              "Kendall (end to end) | Kendall (cached features) |",
              "|---|---|---|---|---|---|---|"]
        if tm.get("note"):
            L[-2:-2] = [tm["note"], ""]
        for r in tm["rows"]:
            L.append(f"| {r['preset']} | {r['size']} | {r['fit_seconds']:.1f} | "
                     f"{r['motif_seconds']:.1f} | "
                     f"{r['query_seconds_per_arch']:.2g} | {r['kendall']:+.4f} | "
                     f"{r['kendall_cached']:+.4f} |")
    return "\n".join(L)


def write_tables(md: Path, out: dict) -> None:
    harness.write_section(md, BEGIN, END, tables(out))
    print(f"wrote the tables of {md}")


def cmd_timing(args):
    """The preset end to end (fit = the motifs of the training cells + the trees; query =
    one motif per test cell + the trees), trial 0, with its Kendall tau beside the one
    computed from the cached features (they must agree: same dish, same motif seeds)."""
    from scipy.stats import kendalltau

    from naslib_petridish.ranker import RankerPredictor

    table = harness.ground_truth(args.nb101)
    s = splits(table, (0,))[0]
    te = [table.cell(x["hash"]) for x in s["test"]]
    yte = table.metric(table.indices([c.hash for c in te]), "test")
    d = np.load(Path(args.work) / f"dish_{args.dish}.npz")
    pos = {h: i for i, h in enumerate(d["hashes"])}
    cur = curves_from_cache(d["x"], list(d["names"]))
    rows = []
    for preset in args.preset:
        for n in args.sizes:
            tr = [table.cell(x["hash"]) for x in s["train"][:n]]
            ytr = table.metric(table.indices([c.hash for c in tr]), "test")
            p = RankerPredictor(preset=preset, table=table, workers=args.workers,
                                progress=False)
            try:
                p.fit(tr, ytr)
                q = p.query(te)
            finally:
                p.close()
            c = p.config
            cached = cached_ranker(c.features, c.graph_members if "graph" in c.models else 0,
                                   c.self_training, c.seed,
                                   {x.hash: cur[pos[x.hash]] for x in tr + te})
            cached.fit(tr, ytr)
            qc = cached.query(te)
            rows.append({"preset": preset, "size": n, "fit_seconds": p.fit_seconds,
                         "motif_seconds": p.fitted["feature_seconds"],
                         "query_seconds_per_arch": p.last_query_seconds_per_arch,
                         "kendall": float(kendalltau(q, yte).statistic),
                         "kendall_cached": float(kendalltau(qc, yte).statistic)})
            print(rows[-1], flush=True)
    # rows of other presets and sizes measured earlier are kept (same machine kind noted)
    path = args.results / "ranking_timing.json"
    old = json.loads(path.read_text()).get("rows", []) if path.exists() else []
    new = {(r["preset"], r["size"]) for r in rows}
    kept = [r for r in old if (r["preset"], r["size"]) not in new]
    note = " ".join(filter(None, [json.loads(path.read_text()).get("note", "") if kept else "",
                                  args.note]))
    harness.save_json(path, {
        "workers": args.workers, "machine": harness.provenance()["machine"],
        "rows": kept + rows, "note": note})


SCREEN_BEGIN, SCREEN_END = harness.markers("screen",
                                           "python -m benchmarks.ranking_features screen")


def cmd_screen(args):
    """The development-trial screening (every ``models_*.jsonl`` of the work folder, trials
    10 and 11 only) as ranking_screen.json and a table in RANKING.md."""
    from collections import defaultdict
    work = Path(args.work)
    g = defaultdict(dict)
    for f in sorted(work.glob("models_*.jsonl")):
        tag = f.stem[len("models_"):]
        for line in f.read_text().splitlines():
            r = json.loads(line)
            if r["trial"] in DEV_TRIALS and np.isfinite(r["kendall"]):
                key = (tag, r["features"], r["model"], r["target"], r["size"])
                g[key][r["trial"]] = r["kendall"]  # a rerun of the same screen replaces it
    rows = [{"screen": tag, "features": fs, "model": m, "target": how, "size": n,
             "trials": sorted(v), "kendall": [v[t] for t in sorted(v)]}
            for (tag, fs, m, how, n), v in sorted(g.items())]
    harness.save_json(args.results / "ranking_screen.json", {
        "protocol": f"c, development trials {list(DEV_TRIALS)} (not the reported trials): "
        "200 test cells, training prefixes of 1,000 uniform cells", "rows": rows})
    best = defaultdict(dict)
    for r in rows:
        if r["size"] in (100, 424):
            best[(r["screen"], r["features"], r["model"], r["target"])][r["size"]] = \
                float(np.mean(r["kendall"]))
    L = ["| screen | features | model | target | @100 | @424 |", "|---|---|---|---|---|---|"]
    for k, v in sorted(best.items(), key=lambda kv: -kv[1].get(100, -1.0)):
        L.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | "
                 + " | ".join(f"{v[n]:+.3f}" if n in v else "" for n in (100, 424)) + " |")
    harness.write_section(args.results / "RANKING.md", SCREEN_BEGIN, SCREEN_END, "\n".join(L))
    print(f"{len(rows)} screening rows -> ranking_screen.json and RANKING.md")


def summarize_final(rows):
    from collections import defaultdict
    g = defaultdict(list)
    for r in rows:
        g[(r["size"], r["method"])].append((r["kendall"], r["spearman"]))
    for (n, m), v in sorted(g.items()):
        v = np.array(v)
        print(f"{n:5d} {m:55s} tau {v[:, 0].mean():+.3f} +- {v[:, 0].std(ddof=1):.3f}  "
              f"rho {v[:, 1].mean():+.3f}")


def cmd_verify(args):
    """Regenerate the ranker presets' rows of ranking_features.json (the first four of
    ABLATION) with the package's ranker as it is now, its dish curves trained afresh (the
    untrained-c5 dish: motif seed 0 and the cell's hash, only for the cells needed), and
    compare them with the committed rows: the move of the ranker must change no number."""
    from scipy.stats import kendalltau, spearmanr

    from naslib_petridish.ranker import RankerConfig, RankerPredictor

    table = harness.ground_truth(args.nb101)
    committed = {(r["trial"], r["size"], r["method"]): r for r in
                 json.loads((args.results / "ranking_features.json").read_text())["rows"]}
    curve_source = RankerPredictor(config=RankerConfig(
        features=["dish"], models=["trees"], workers=args.workers)).source("dish")
    rows = []
    try:
        for t in args.trials:
            sp = splits(table, (t,))[t]
            te = [table.cell(x["hash"]) for x in sp["test"]]
            tr = [table.cell(x["hash"]) for x in sp["train"][:max(args.sizes)]]
            yte = table.metric(table.indices([c.hash for c in te]), "test")
            t0 = time.perf_counter()
            curves = dict(zip([c.hash for c in te + tr], curve_source.results(te + tr)))
            print(f"trial {t}: {len(curves)} curves in {time.perf_counter() - t0:.0f} s",
                  flush=True)
            for n in args.sizes:
                ytr = table.metric(table.indices([c.hash for c in tr[:n]]), "test")
                for label, fams, graph, st in ABLATION[:4]:
                    r = cached_ranker(fams, graph, st, t, curves)
                    r.fit(tr[:n], ytr)
                    p = r.query(te)
                    old = committed[(t, n, label)]
                    rows.append({"trial": t, "size": n, "method": label.split(":")[0],
                                 "kendall": float(kendalltau(p, yte).statistic),
                                 "spearman": float(spearmanr(p, yte).statistic),
                                 "committed_kendall": old["kendall"],
                                 "committed_spearman": old["spearman"]})
                    rows[-1]["identical"] = (rows[-1]["kendall"] == old["kendall"]
                                             and rows[-1]["spearman"] == old["spearman"])
                    print(rows[-1], flush=True)
    finally:
        curve_source.close()
    harness.save_json(args.results / "ranking_verify.json", {
        "what": "the ranker presets' rows of ranking_features.json regenerated with the "
                "package's RankerPredictor (dish curves trained afresh)",
        "all_identical": all(r["identical"] for r in rows), "rows": rows})


def main():
    ap = harness.argument_parser(__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("features")
    f.add_argument("--dish", nargs="*", default=["untrained-c5"], choices=sorted(DISHES))
    f.add_argument("--workers", type=int, default=1)
    f.add_argument("--chunk", type=int, default=100)
    f.add_argument("--trials", nargs="+", type=int, default=None,
                   help="only the cells of these trials (default: all)")
    f.add_argument("--work", default=str(WORK))
    harness.add_nb101_argument(f)
    f.set_defaults(fn=cmd_features)
    z = sub.add_parser("zero-cost")
    z.add_argument("--work", default=str(WORK))
    harness.add_nb101_argument(z)
    z.set_defaults(fn=cmd_zero_cost)
    fl = sub.add_parser("final", help="the reported figures (ranking_features.json)")
    fl.add_argument("--dish", default="untrained-c5")
    fl.add_argument("--jobs", type=int, default=2, help="trials fitted side by side")
    fl.add_argument("--render-only", action="store_true",
                    help="rewrite RANKING.md's tables from ranking_features.json")
    fl.add_argument("--work", default=str(WORK))
    harness.add_nb101_argument(fl)
    fl.set_defaults(fn=cmd_final)
    tg = sub.add_parser("timing", help="the preset end to end: fit and query times")
    tg.add_argument("--preset", nargs="+",
                    default=["dish-curve-self-trained", "cell-features-self-trained"])
    tg.add_argument("--dish", default="untrained-c5")
    tg.add_argument("--workers", type=int, default=1)
    tg.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    tg.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    tg.add_argument("--work", default=str(WORK))
    harness.add_nb101_argument(tg)
    tg.set_defaults(fn=cmd_timing)
    sc = sub.add_parser("screen", help="the development screening table")
    sc.add_argument("--work", default=str(WORK))
    sc.set_defaults(fn=cmd_screen)
    v = sub.add_parser("verify", help="regenerate the ranker presets' rows and compare them "
                                      "with the committed ones")
    v.add_argument("--trials", nargs="+", type=int, default=list(TRIALS))
    v.add_argument("--sizes", nargs="+", type=int, default=[100, 424])
    v.add_argument("--workers", type=int, default=1)
    harness.add_nb101_argument(v)
    v.set_defaults(fn=cmd_verify)
    m = sub.add_parser("models")
    m.add_argument("--dish", nargs="+", default=["untrained-c5"])
    m.add_argument("--sets", nargs="+", default=list(FEATURE_SETS))
    m.add_argument("--models", nargs="+", default=["xgb", "lgb", "rf", "ridge", "gp"])
    m.add_argument("--targets", nargs="+", default=["raw", "rank"])
    m.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    m.add_argument("--tag", default="screen")
    m.add_argument("--augment", type=int, default=0,
                   help="add up to K reorderings of each training cell (same label)")
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
