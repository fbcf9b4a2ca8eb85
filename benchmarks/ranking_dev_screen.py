"""Issue 47's development screening: graph-network variants, self- and co-training (RANKING.md).

Development trials only (10-13 of protocol c: ``protocols.split_uniform(table, 200, 1000,
t)``, 108-epoch test accuracy, repeat 0); no reported trial is touched.  This is the frozen
record of the screening as it ran: its graph networks are written here (``GIN``: the
package's ``ranker.graph.GraphNet`` with options; ``RelTransformer``: attention over the 7
vertices with a learned bias per vertex relation), and its unlabelled pool is drawn
uniformly from the table (the package draws with NASLib's sampler).  What was kept moved
into the package (``graph_layers``, ``self_training_trees``, ``self_training_rounds``,
``model_weights``).  Each command prints one JSON row per (trial, size) and appends it to
WORK/rows.jsonl; ``summary`` averages them into ``ranking_dev.json``.

    python -m benchmarks.ranking_dev_screen arch       # GIN, + sibling links, relational attention
    python -m benchmarks.ranking_dev_screen depth      # layers, width, dropout, readout, members
    python -m benchmarks.ranking_dev_screen rounds     # rounds of self- + co-training
    python -m benchmarks.ranking_dev_screen cotrain    # the co-trained trees' teacher and pool
    python -m benchmarks.ranking_dev_screen loss       # listwise / soft pair loss, path attention
    python -m benchmarks.ranking_dev_screen summary
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

WORK = Path("runs/ranking_dev")
DEV_TRIALS = (10, 11, 12, 13)
#: GIN options (layers, hidden, drop, readout, sib) and training options (epochs, lr, wd,
#: members) of the ``depth`` and ``arch`` variants
VARIANTS = {
    "gin": ({}, {}), "gin-sib": ({"sib": True}, {}), "rt": (None, {}),
    "e600": ({}, {"epochs": 600}), "e150": ({}, {"epochs": 150}), "wd5e-3": ({}, {"wd": 5e-3}),
    "h128": ({"hidden": 128}, {}), "l5": ({"layers": 5}, {}), "l7": ({"layers": 7}, {}),
    "jk": ({"readout": "jk"}, {}), "drop0.1": ({"drop": 0.1}, {}), "lr3e-3": ({}, {"lr": 3e-3}),
    "m8": ({}, {"members": 8}), "l5-h128": ({"layers": 5, "hidden": 128}, {}),
    "l5-d0.1": ({"layers": 5, "drop": 0.1}, {}), "l5-jk": ({"layers": 5, "readout": "jk"}, {}),
    # the ``loss`` screen (second pass): listwise loss, soft pairwise targets, path attention
    "l5-listmle": ({"layers": 5}, {"loss": "listmle"}),
    "l5-soft0.02": ({"layers": 5}, {"loss": "soft0.02"}),
    "l5-soft0.05": ({"layers": 5}, {"loss": "soft0.05"}),
    "l5-margin": ({"layers": 5}, {"loss": "margin"}),
    "l5-pa": ({"layers": 5, "pa": True}, {}),
}


class Data:
    """The table, the cells' feature rows (free + path + encoding, computed once per cell)
    and graph tensors."""

    def __init__(self, nb101):
        self.table = harness.ground_truth(nb101)
        self.y = self.table.metric(np.arange(len(self.table)), "test")
        self._rows: dict[int, np.ndarray] = {}

    def X(self, idx) -> np.ndarray:
        from naslib_petridish.spaces.nb101_features import encoding, free_features, path_encoding

        todo = [int(i) for i in idx if int(i) not in self._rows]
        if todo:
            cells = self.table.cells(todo)
            x = np.hstack([f(cells)[0] for f in (free_features, path_encoding, encoding)])
            self._rows.update(zip(todo, x))
        return np.array([self._rows[int(i)] for i in idx])

    def graphs(self, idx):
        import torch
        from naslib_petridish.ranker.graph import graph_tensors

        a, h = graph_tensors(self.table.cells([int(i) for i in idx]))
        reach = a.clone()
        for _ in range(6):
            reach = ((reach + reach @ a) > 0).float()
        # vertex relations: 1 self, 2 pred, 3 succ, 4 ancestor, 5 descendant, 6 common
        # child, 7 common parent, 8 other
        R = torch.full(a.shape, 8, dtype=torch.long)
        R[(a.transpose(1, 2) @ a) > 0] = 7
        R[(a @ a.transpose(1, 2)) > 0] = 6
        R[reach.transpose(1, 2) > 0] = 5
        R[reach > 0] = 4
        R[a.transpose(1, 2) > 0] = 3
        R[a > 0] = 2
        R[torch.eye(7, dtype=torch.bool).expand_as(R)] = 1
        return a, h, R

    def split(self, trial, size, pool=0):
        from naslib_petridish.protocols import split_uniform

        sp = split_uniform(self.table, 200, 1000, trial)
        te = self.table.indices([x["hash"] for x in sp["test"]])
        tr = self.table.indices([x["hash"] for x in sp["train"]])[:size]
        rng = np.random.default_rng([trial, 47])
        p = rng.choice(len(self.table), pool + 2000, replace=False) if pool else np.array([], int)
        p = rng.permutation(np.setdiff1d(p, np.concatenate([tr, te])))[:pool]
        return tr, te, p


def nets():
    """The screened network classes (torch imported here, as the package does)."""
    import torch
    from torch import nn

    class GIN(nn.Module):
        def __init__(self, hidden=64, layers=3, drop=0.0, readout="out+mean", sib=False,
                     pa=False):
            super().__init__()
            self.sib, self.readout, self.pa = sib, readout, pa
            # path attention (PINAT / NN-Former style): after each GIN update, attention
            # among the vertices on a common path (ancestors, descendants, itself)
            self.att = nn.ModuleList(nn.MultiheadAttention(hidden, 4, batch_first=True)
                                     for _ in range(layers if pa else 0))
            self.ln = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers if pa else 0))
            self.inp = nn.Linear(5, hidden)
            self.drop = nn.Dropout(drop)
            k = 5 if sib else 3
            self.layers = nn.ModuleList(nn.Sequential(nn.Linear(k * hidden, hidden), nn.ReLU(),
                                                      nn.Linear(hidden, hidden))
                                        for _ in range(layers))
            width = 2 if readout == "out+mean" else 2 * (layers + 1)
            self.head = nn.Sequential(nn.Linear(width * hidden, hidden), nn.ReLU(),
                                      nn.Linear(hidden, 1))

        def forward(self, a, h, R=None):
            x = torch.relu(self.inp(h))
            at = a.transpose(1, 2)
            mats = [at, a] + ([a @ at, at @ a] if self.sib else [])
            outs = [x[:, -1], x.mean(1)]
            if self.pa:  # R: 1 self, 2-5 parent / child / ancestor / descendant
                blocked = ((R < 1) | (R > 5)).repeat_interleave(4, 0)
            for i, f in enumerate(self.layers):
                x = x + self.drop(f(torch.cat([x] + [m @ x for m in mats], -1)))
                if self.pa:
                    z = self.ln[i](x)
                    x = x + self.att[i](z, z, z, attn_mask=blocked, need_weights=False)[0]
                outs += [x[:, -1], x.mean(1)]
            g = outs[-2:] if self.readout == "out+mean" else outs
            return self.head(torch.cat(g, -1)).squeeze(-1)

    class RelTransformer(nn.Module):
        def __init__(self, hidden=64, layers=3, heads=4, relations=9):
            super().__init__()
            self.h, self.d = heads, hidden // heads
            self.inp = nn.Linear(5, hidden)
            self.bias = nn.ParameterList(nn.Parameter(torch.zeros(heads, relations))
                                         for _ in range(layers))
            self.qkv = nn.ModuleList(nn.Linear(hidden, 3 * hidden) for _ in range(layers))
            self.o = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
            self.ff = nn.ModuleList(nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.ReLU(),
                                                  nn.Linear(2 * hidden, hidden))
                                    for _ in range(layers))
            self.n1 = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
            self.n2 = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
            self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(),
                                      nn.Linear(hidden, 1))

        def forward(self, a, h, R):
            B = h.shape[0]
            valid = h.sum(-1) > 0
            x = self.inp(h)
            mask = ~valid[:, None, None, :]
            for qkv, o, ff, n1, n2, bias in zip(self.qkv, self.o, self.ff, self.n1, self.n2,
                                                self.bias):
                q, k, v = qkv(n1(x)).view(B, 7, 3, self.h, self.d).unbind(2)
                att = torch.einsum("bihd,bjhd->bhij", q, k) / self.d ** 0.5
                att = (att + bias[:, R].permute(1, 0, 2, 3)).masked_fill(mask, -1e4)
                x = x + o(torch.einsum("bhij,bjhd->bihd", att.softmax(-1), v).reshape(B, 7, -1))
                x = x + ff(n2(x))
            m = valid.float()[..., None]
            return self.head(torch.cat([x[:, -1], (x * m).sum(1) / m.sum(1)], -1)).squeeze(-1)

    return GIN, RelTransformer


def make(kind, seed):
    import torch

    GIN, RelTransformer = nets()
    torch.manual_seed(seed)
    opts = VARIANTS[kind][0]
    return RelTransformer() if opts is None else GIN(**opts)


def _loss(kind: str, y):
    """The training loss over a full batch of scores ``s`` for targets ``y``: ``pair`` (the
    package's pairwise logistic loss), ``listmle`` (Plackett-Luce likelihood of the true
    order), ``soft<T>`` (pairwise cross-entropy against sigmoid(rank-quantile difference / T):
    near-ties, where one repeat's label is a coin flip, count little), ``margin`` (the
    pairwise loss weighted by the quantile difference)."""
    import torch
    from torch import nn
    from scipy.stats import rankdata
    from naslib_petridish.ranker.graph import _pair_signs, _pairwise_loss

    yt = torch.tensor(y, dtype=torch.float32)
    sign, pairs = _pair_signs(yt)
    if kind == "pair":
        return lambda s: _pairwise_loss(s, sign, pairs)
    q = torch.tensor((rankdata(y) - 1) / max(len(y) - 1, 1), dtype=torch.float32)
    dq = q[:, None] - q[None, :]
    off = ~torch.eye(len(y), dtype=torch.bool)
    if kind == "listmle":
        order = torch.argsort(yt, descending=True)

        def listmle(s):
            z = s[order]
            # log sum_{j >= i} exp(z_j): a reversed cumulative logsumexp
            tail = torch.logcumsumexp(z.flip(0), 0).flip(0)
            return (tail - z).mean()
        return listmle
    if kind.startswith("soft"):
        p = torch.sigmoid(dq / float(kind[4:]))
        return lambda s: nn.functional.binary_cross_entropy_with_logits(
            (s[:, None] - s[None, :])[off], p[off])
    if kind == "margin":
        w = dq.abs()
        return lambda s: (w * nn.functional.softplus(-sign * (s[:, None] - s[None, :])))[
            pairs].sum() / w[pairs].sum()
    raise ValueError(kind)


def fit_members(kind, G, y, seed, epochs=300, lr=1e-3, wd=5e-4, members=3, init=None,
                loss="pair"):
    import torch

    lossf = _loss(loss, y)
    out = []
    for k in range(members):
        net = make(kind, seed * 1000 + k)
        if init is not None:
            net.load_state_dict(init[k])
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=wd)
        for _ in range(epochs):
            value = lossf(net(*G))
            opt.zero_grad()
            value.backward()
            opt.step()
        out.append(net)
    return out


def pretrain(kind, G, teacher, seed, members=3, epochs=30, batch=256):
    import torch
    from naslib_petridish.ranker.graph import _pair_signs, _pairwise_loss

    t = torch.tensor(teacher, dtype=torch.float32)
    out = []
    for k in range(members):
        net = make(kind, seed * 1000 + 500 + k)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(seed * 1000 + 500 + k)
        for _ in range(epochs):
            for idx in torch.randperm(len(t), generator=gen).split(batch):
                loss = _pairwise_loss(net(*(g[idx] for g in G)), *_pair_signs(t[idx]))
                opt.zero_grad()
                loss.backward()
                opt.step()
        out.append({n: v.clone() for n, v in net.state_dict().items()})
    return out


def scores(members, G):
    import torch
    from scipy.stats import rankdata

    with torch.no_grad():
        return np.mean([rankdata(n.eval()(*G).numpy()) for n in members], 0)


def trees(X, target, seed, weight=None):
    from naslib_petridish.ranker.trees import train_trees

    return train_trees(X, [f"f{i}" for i in range(X.shape[1])], target, seed, weight)


def tau(p, y) -> float:
    from scipy.stats import kendalltau

    return round(float(kendalltau(p, y).statistic), 4)


def cmd_graphs(d: Data, args) -> list[dict]:
    """``arch`` / ``depth``: each variant's 3 networks alone and beside the trees (rank
    mean), trained on the labelled cells only."""
    from scipy.stats import rankdata
    from naslib_petridish.ranker.models import rank_target

    rows = []
    for t in args.trials:
        for n in args.sizes:
            tr, te, _ = d.split(t, n)
            pt = rankdata(trees(d.X(tr), rank_target(d.y[tr]), t).predict(d.X(te),
                                                                          num_threads=1))
            row = {"cmd": args.cmd, "trial": t, "size": n, "trees": tau(pt, d.y[te])}
            for kind in args.kinds:
                pg = scores(fit_members(kind, d.graphs(tr), d.y[tr], t, **VARIANTS[kind][1]),
                            d.graphs(te))
                row[kind], row[kind + "+trees"] = tau(pg, d.y[te]), tau(pg + pt, d.y[te])
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def cmd_rounds(d: Data, args) -> list[dict]:
    """Rounds of self-training (GIN students) and co-training (trees on labelled + the
    teacher's pseudo-ranks, labelled rows weighing ``--w`` times the pool together)."""
    from scipy.stats import rankdata
    from naslib_petridish.ranker.models import rank_target

    rows = []
    for t in args.trials:
        for n in args.sizes:
            tr, te, pool = d.split(t, n, args.pool)
            Gtr, Gte, Gp = d.graphs(tr), d.graphs(te), d.graphs(pool)
            Xtr, Xte, Xp = d.X(tr), d.X(te), d.X(pool)
            y, yte = d.y[tr], d.y[te]
            bo = trees(Xtr, rank_target(y), t)
            members = fit_members("gin", Gtr, y, t)
            row = {"cmd": "rounds", "trial": t, "size": n, "pool": args.pool, "w": args.w}
            t0 = time.time()
            for r in range(args.rounds + 1):
                pt, pg = rankdata(bo.predict(Xte, num_threads=1)), scores(members, Gte)
                row.update({f"r{r}_trees": tau(pt, yte), f"r{r}_gin": tau(pg, yte),
                            f"r{r}_ens": tau(pt + pg, yte), f"r{r}_s": round(time.time() - t0)})
                if r == args.rounds:
                    break
                teacher = rankdata(bo.predict(Xp, num_threads=1)) + scores(members, Gp)
                init = pretrain("gin", Gp, teacher, t + 100 * r)
                members = fit_members("gin", Gtr, y, t, epochs=100, init=init)
                pseudo = (rankdata(teacher) - 1) / (len(pool) - 1)
                wt = np.r_[np.full(n, args.w * len(pool) / n), np.ones(len(pool))]
                bo = trees(np.vstack([Xtr, Xp]), np.r_[rank_target(y), pseudo], t, wt)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def cmd_cotrain(d: Data, args) -> list[dict]:
    """Co-trained trees: teacher = trees + labelled-only networks (``lab``) or + the
    self-trained networks (``st``), pools of ``--pools`` cells; test ranks of every part
    kept (WORK/preds_t*_n*.npz) for the ensemble weights of ``summary``."""
    from scipy.stats import rankdata
    from naslib_petridish.ranker.models import rank_target

    rows = []
    for t in args.trials:
        for n in args.sizes:
            tr, te, big = d.split(t, n, max(args.pools))
            Gtr, Gte = d.graphs(tr), d.graphs(te)
            Xtr, Xte = d.X(tr), d.X(te)
            y, yte = d.y[tr], d.y[te]
            bo = trees(Xtr, rank_target(y), t)
            lab = fit_members("gin", Gtr, y, t)
            Gp = d.graphs(big[:10000])
            teacher = rankdata(bo.predict(d.X(big[:10000]), num_threads=1)) + scores(lab, Gp)
            st = fit_members("gin", Gtr, y, t, epochs=100, init=pretrain("gin", Gp, teacher, t))
            preds = {"y": yte, "trees": bo.predict(Xte, num_threads=1),
                     "gin": scores(lab, Gte), "gin-st": scores(st, Gte)}
            for P in args.pools:
                Xp, Gq = d.X(big[:P]), d.graphs(big[:P])
                qt = rankdata(bo.predict(Xp, num_threads=1))
                for name, g in (("lab", lab), ("st", st)):
                    pseudo = rankdata(qt + scores(g, Gq))
                    wt = np.r_[np.full(n, args.w * P / n), np.ones(P)]
                    preds[f"cotrees-{P}-{name}"] = trees(
                        np.vstack([Xtr, Xp]), np.r_[rank_target(y), (pseudo - 1) / (P - 1)], t,
                        wt).predict(Xte, num_threads=1)
            np.savez(Path(args.work) / f"preds_t{t}_n{n}.npz", **preds)
            row = {"cmd": "cotrain", "trial": t, "size": n,
                   **{k: tau(v, yte) for k, v in preds.items() if k != "y"}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def cmd_summary(args) -> int:
    """Means over trials of every row key, and the ensemble weights of the cotrain ranks."""
    from scipy.stats import rankdata

    rows = harness.read_jsonl(Path(args.work) / "rows.jsonl")
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["cmd"], r["size"]), []).append(r)
    means = []
    for (cmd, n), g in sorted(groups.items()):
        keys = dict.fromkeys(k for r in g for k, v in r.items() if isinstance(v, float)
                             and k not in ("w",) and not k.endswith("_s"))
        means.append({"cmd": cmd, "size": n, "trials": [r["trial"] for r in g],
                      "kendall": {k: round(float(np.mean([r[k] for r in g if k in r])), 4)
                                  for k in keys},
                      "trials_per_key": {k: sum(k in r for r in g) for k in keys}})
    weights = []
    for f in sorted(Path(args.work).glob("preds_t*_n*.npz")):
        p = dict(np.load(f))
        n = int(f.stem.split("_n")[1])
        for tk in ("trees", "cotrees-10000-st"):
            for w in (0.5, 0.6, 0.67, 0.75, 0.85, 1.0):
                mix = w * rankdata(p[tk]) + (1 - w) * rankdata(p["gin-st"])
                weights.append({"size": n, "trees": tk, "graph": "gin-st", "w_trees": w,
                                "kendall": tau(mix, p["y"])})
    wmeans = {}
    for x in weights:
        wmeans.setdefault((x["size"], x["trees"], x["w_trees"]), []).append(x["kendall"])
    harness.save_json(Path(args.results) / "ranking_dev.json", {
        "protocol": "c, development trials only (protocols.split_uniform(table, 200, 1000, t), "
                    "t in 10-13), 108-epoch test accuracy repeat 0; unlabelled pool uniform "
                    "over the table",
        "means": means,
        "ensemble_weights": [{"size": n, "trees": tk, "w_trees": w, "trials": len(v),
                              "kendall": round(float(np.mean(v)), 4)}
                             for (n, tk, w), v in sorted(wmeans.items())]})
    print(f"wrote {Path(args.results) / 'ranking_dev.json'}")
    return 0


def main(argv=None) -> int:
    ap = harness.argument_parser(__doc__)
    ap.add_argument("--work", default=str(WORK))
    harness.add_nb101_argument(ap)
    sub = ap.add_subparsers(dest="cmd", required=True)
    kinds = {"arch": ["gin", "gin-sib", "rt"],
             "loss": ["l5", "l5-listmle", "l5-soft0.02", "l5-soft0.05", "l5-margin", "l5-pa"],
             "depth": ["gin", "l5", "l7", "h128", "jk", "drop0.1", "e600", "e150", "wd5e-3",
                       "lr3e-3", "m8", "l5-h128", "l5-d0.1", "l5-jk"]}
    for name in ("arch", "depth", "loss", "rounds", "cotrain"):
        p = sub.add_parser(name)
        p.add_argument("--trials", nargs="+", type=int, default=list(DEV_TRIALS))
        p.add_argument("--sizes", nargs="+", type=int, default=[100, 424])
        p.add_argument("--w", type=float, default=0.25)
        if name in kinds:
            p.add_argument("--kinds", nargs="+", choices=sorted(VARIANTS), default=kinds[name])
        if name == "rounds":
            p.add_argument("--rounds", type=int, default=3)
            p.add_argument("--pool", type=int, default=10000)
        if name == "cotrain":
            p.add_argument("--pools", nargs="+", type=int, default=[10000, 30000])
    sub.add_parser("summary")
    args = ap.parse_args(argv)
    if args.cmd == "summary":
        return cmd_summary(args)
    if any(t not in DEV_TRIALS for t in args.trials):
        raise SystemExit(f"development trials only ({DEV_TRIALS}): the reported trials are "
                         "for benchmarks.ranking_presets")
    harness.one_thread()
    Path(args.work).mkdir(parents=True, exist_ok=True)
    fn = {"arch": cmd_graphs, "depth": cmd_graphs, "loss": cmd_graphs, "rounds": cmd_rounds,
          "cotrain": cmd_cotrain}[args.cmd]
    rows = fn(Data(args.nb101), args)
    with open(Path(args.work) / "rows.jsonl", "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
