"""The models and extra features of the development screening of issue 25 (RANKING.md,
"What was tried"; ``python -m benchmarks.ranking_features models`` and ``zero-cost``,
summarized by ``... screen`` into ``ranking_screen.json``).

This module is the frozen record of that experiment, kept as it ran: the rows of
``ranking_screen.json`` were made with exactly this code, and changing it would make them
unreproducible.  Its graph rankers are deliberately not the package's
``naslib_petridish.ranker.graph`` (which grew out of them and is what the shipped presets
and the reported ``ranking_features final`` use, through ``naslib_petridish.ranker``): they
seed member ``k`` with ``seed * 100 + k`` (the package: ``seed * 1000 + k``), let the
screening's other feature columns join the graph readout (:class:`GraphRanker`), average
the members' ranks rather than their scores, and pretrain on the free features of
unlabelled cells (:func:`pretrained_encoder`) where the package self-trains on a teacher's
scores.  Only the building blocks (``GraphNet``, ``graph_tensors``, the feature
encodings) come from the package.  New experiments belong in the package, not here.
"""
from __future__ import annotations

import numpy as np

from benchmarks import harness
from naslib_petridish.protocols import split_uniform

#: the cells never pretrained on: the test cells of these trials of protocol (c) (200 test,
#: 1,000 training cells), i.e. ranking_features' TRIALS + DEV_TRIALS as the screen ran them
HELD_OUT_TRIALS, TEST, TRAIN = (0, 1, 2, 10, 11), 200, 1000


def zero_cost_on_dish(cell, images, labels, seed: int = 0) -> list[float]:
    """Zero-cost proxies of motif C at initialization with the dish as the data batch:
    NASWOT (log-determinant of the ReLU-pattern kernel, Mellor et al.), synflow (data-free,
    Tanaka et al.), grad-norm and snip (Abdelfattah et al.), each on 64 dish images."""
    import torch
    import torch.nn.functional as Fn
    from naslib_petridish.motifs import build_network

    torch.manual_seed(seed)
    net = build_network(cell, "C")
    x, y = images[:64], labels[:64]
    codes = []

    def hook(_m, _i, out):
        codes.append((out.detach().flatten(1) > 0).float())
    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    net.train()
    out = net(x)
    for h in hs:
        h.remove()
    c = torch.cat(codes, 1)
    k = c @ c.t() + (1 - c) @ (1 - c).t()
    naswot = float(torch.slogdet(k.double())[1])
    loss = Fn.cross_entropy(out, y)
    grads = torch.autograd.grad(loss, [p for p in net.parameters()], allow_unused=True)
    params = list(net.parameters())
    gn = float(sum((g.norm() ** 2) for g in grads if g is not None) ** 0.5)
    snip = float(sum((g * p).abs().sum() for g, p in zip(grads, params) if g is not None))
    # synflow: |theta|, all-ones input, double precision, BN in eval mode
    net = net.double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    r = net(torch.ones((1,) + tuple(x.shape[1:]), dtype=torch.float64)).sum()
    g = torch.autograd.grad(r, list(net.parameters()), allow_unused=True)
    syn = float(sum((gi * p).sum() for gi, p in zip(g, net.parameters()) if gi is not None))
    return [naswot, np.log(gn + 1e-12), np.log(snip + 1e-12), np.log(abs(syn) + 1e-30)]


ZC_NAMES = ["zc_naswot", "zc_log_gradnorm", "zc_log_snip", "zc_log_synflow"]


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
    if name.startswith("lgb-") and name.count("-") == 3:  # lgb-<leaves>-<min_child>-<trees>
        import lightgbm as lgb
        _, leaves, mc, trees = name.split("-")
        return lgb.LGBMRegressor(n_estimators=int(trees), learning_rate=0.03,
                                 num_leaves=int(leaves), min_child_samples=int(mc),
                                 subsample=0.8, subsample_freq=1, colsample_bytree=0.6,
                                 n_jobs=1, random_state=seed, verbose=-1)
    if name == "pgin":
        return PretrainedGIN(seed)
    if name == "pgin+lgb":
        return RankEnsemble([PretrainedGIN(seed), make_model("lgb-7-5-1000", seed)])
    if name == "lambdarank":  # LightGBM's LambdaRank over one group of all training cells
        return LambdaRank(seed)
    if name == "bag5":  # five seeds of lgb-7-5-1000, rank-averaged
        return RankEnsemble([make_model("lgb-7-5-1000", seed * 10 + k) for k in range(5)])
    if name == "lgb-xt":  # extremely randomized trees
        import lightgbm as lgb
        return lgb.LGBMRegressor(n_estimators=1000, learning_rate=0.03, num_leaves=7,
                                 min_child_samples=5, subsample=0.8, subsample_freq=1,
                                 colsample_bytree=0.6, extra_trees=True, n_jobs=1,
                                 random_state=seed, verbose=-1)
    if name == "lgb-l2":
        import lightgbm as lgb
        return lgb.LGBMRegressor(n_estimators=1000, learning_rate=0.03, num_leaves=7,
                                 min_child_samples=5, subsample=0.8, subsample_freq=1,
                                 colsample_bytree=0.6, reg_lambda=5.0, n_jobs=1,
                                 random_state=seed, verbose=-1)
    if name == "gin":
        return GraphRanker(seed)
    if name == "gin-enc+lgb":  # the GIN on the graph only, the trees on every column
        return RankEnsemble([ColumnSlice(GraphRanker(seed), 36), make_model("lgb-7-5-1000", seed)])
    if name == "gin+lgb":
        return RankEnsemble([GraphRanker(seed), make_model("lgb-7-5-1000", seed)])
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


_PRETRAINED = {}


def pretrained_encoder(n_cells: int = 20000, epochs: int = 15, seed: int = 0):
    """A GraphNet pretrained on unlabelled cells to predict their (standardized) free
    features: what a cell's graph implies, learned from 20,000 random NB101 cells without
    any accuracy (cached per process)."""
    if seed in _PRETRAINED:
        return _PRETRAINED[seed]
    import torch
    from naslib_petridish.spaces.nb101_features import free_features
    from naslib_petridish.ranker.graph import GraphNet, graph_tensors
    table = harness.ground_truth(None)
    rng = np.random.default_rng([seed, 0x5EED])
    test_like = set()
    for t in HELD_OUT_TRIALS:
        test_like |= {x["hash"] for x in split_uniform(table, TEST, TRAIN, t)["test"]}
    rows = [r for r in rng.choice(len(table), n_cells + 2000, replace=False)
            if table.hashes[r] not in test_like][:n_cells]
    cells = [table.cell(int(r)) for r in rows]
    f = free_features(cells)[0]
    f = (f - f.mean(0)) / (f.std(0) + 1e-6)
    a, h = graph_tensors(cells)
    tgt = torch.tensor(f, dtype=torch.float32)
    torch.manual_seed(seed)
    net = GraphNet()
    net.head = torch.nn.Sequential(torch.nn.Linear(128, 64), torch.nn.ReLU(),
                                   torch.nn.Linear(64, f.shape[1]))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    torch.set_num_threads(1)
    for _ in range(epochs):
        perm = torch.randperm(len(cells))
        for i in range(0, len(cells), 256):
            b = perm[i:i + 256]
            x = torch.relu(net.inp(h[b]))
            for lay in net.layers:
                x = x + lay(torch.cat([x, a[b].transpose(1, 2) @ x, a[b] @ x], -1))
            out = net.head(torch.cat([x[:, -1], x.mean(1)], -1))
            loss = ((out - tgt[b]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    print(f"pretrained on {len(cells)} unlabelled cells, last loss {float(loss):.3f}", flush=True)
    _PRETRAINED[seed] = {k: v.detach().clone() for k, v in net.state_dict().items()
                         if not k.startswith("head.")}
    return _PRETRAINED[seed]


class PretrainedGIN:
    """GraphNet members initialized from :func:`pretrained_encoder`, then trained with the
    pairwise ranking loss on the labelled cells (graph only: the first 36 columns)."""

    def __init__(self, seed, members=3, epochs=300, lr=5e-4):
        self.seed, self.members, self.epochs, self.lr = seed, members, epochs, lr

    def fit(self, X, y):
        import torch
        from naslib_petridish.ranker.graph import GraphNet
        enc = pretrained_encoder()
        a, h = self._graph(X)
        yt = torch.tensor(y, dtype=torch.float32)
        sign = torch.sign(yt[:, None] - yt[None, :])
        self.nets = []
        for k in range(self.members):
            torch.manual_seed(self.seed * 100 + k)
            net = GraphNet()
            net.load_state_dict(enc, strict=False)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=5e-4)
            for _ in range(self.epochs):
                s = net(a, h)
                loss = torch.nn.functional.softplus(-sign * (s[:, None] - s[None, :]))[
                    sign != 0].mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            self.nets.append(net.eval())
        return self

    @staticmethod
    def _graph(X):
        g = GraphRanker._graph(X[:, :36])
        return g[0], g[1]

    def predict(self, X):
        import torch
        from scipy.stats import rankdata
        a, h = self._graph(X)
        with torch.no_grad():
            return np.mean([rankdata(n(a, h).numpy()) for n in self.nets], axis=0)


class LambdaRank:
    """LightGBM's lambdarank objective; the labels are the accuracy ranks cut into 31
    relevance levels (its label_gain limit), one query group holding every training cell."""

    def __init__(self, seed):
        self.seed = seed

    def fit(self, X, y):
        import lightgbm as lgb
        from scipy.stats import rankdata
        rel = np.floor((rankdata(y) - 1) / len(y) * 31).astype(int)
        self.m = lgb.LGBMRanker(n_estimators=500, learning_rate=0.03, num_leaves=7,
                                min_child_samples=5, subsample=0.8, subsample_freq=1,
                                colsample_bytree=0.6, n_jobs=1, random_state=self.seed,
                                verbose=-1, lambdarank_truncation_level=len(y))
        self.m.fit(X, rel, group=[len(y)])
        return self

    def predict(self, X):
        return self.m.predict(X)


class ColumnSlice:
    """A model that sees only the first ``n`` columns."""

    def __init__(self, model, n: int):
        self.model, self.n = model, n

    def fit(self, X, y):
        self.model.fit(X[:, :self.n], y)
        return self

    def predict(self, X):
        return self.model.predict(X[:, :self.n])


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


def reorderings(cell, k: int, rng: np.random.Generator) -> list:
    """Up to ``k`` other vertex orders of the same cell (random topological orders of its
    intermediate vertices): the same network, a different adjacency encoding
    (homogeneous architecture augmentation, as in HAAP, Liu et al. 2022)."""
    from naslib_petridish.cells import Cell
    v = len(cell.ops)
    out, seen = [], {tuple(range(v))}
    for _ in range(4 * k):
        indeg = cell.matrix.sum(0).astype(int)
        indeg[cell.matrix[0] == 1] -= 1  # the input is placed first
        order, ready = [0], [j for j in range(1, v - 1) if indeg[j] == 0]
        while ready:
            j = ready.pop(rng.integers(len(ready)))
            order.append(j)
            for w in range(j + 1, v - 1):
                if cell.matrix[j, w]:
                    indeg[w] -= 1
                    if indeg[w] == 0:
                        ready.append(w)
        order.append(v - 1)
        if tuple(order) in seen:
            continue
        seen.add(tuple(order))
        m = cell.matrix[np.ix_(order, order)]
        out.append(Cell(m, [cell.ops[i] for i in order]))
        if len(out) == k:
            break
    return out


def augmented(X, y, rows, hashes, table, blocks, k: int, seed: int):
    """The training rows plus up to ``k`` reorderings of each cell (same label; only the
    adjacency encoding changes: the other families are invariant). The encoding block
    comes first in every feature set that has it."""
    from naslib_petridish.spaces.nb101_features import encoding
    rng = np.random.default_rng(seed)
    ne = blocks["encoding"][0].shape[1]
    xs, ys = [X[rows]], [y[rows]]
    for r in rows:
        alts = reorderings(table.cell(hashes[r]), k, rng)
        if alts:
            e = encoding(alts)[0]
            xa = np.repeat(X[r:r + 1], len(alts), axis=0)
            xa[:, :ne] = e
            xs.append(xa)
            ys.append(np.full(len(alts), y[r]))
    return np.concatenate(xs), np.concatenate(ys)


class GraphRanker:
    """``ranker.graph.GraphNet`` members with the pairwise logistic ranking loss, on the
    screening's feature matrices: ``X`` rows are the encoding block (21 adjacency bits + 15
    operation bits) followed by any other features, which join the graph readout."""

    def __init__(self, seed: int, hidden: int = 64, layers: int = 3, epochs: int = 300,
                 members: int = 3):
        self.seed, self.hidden, self.layers, self.epochs, self.members = \
            seed, hidden, layers, epochs, members

    @staticmethod
    def _graph(X):
        import torch
        n = len(X)
        iu = np.triu_indices(7, 1)
        A = np.zeros((n, 7, 7), np.float32)
        A[:, iu[0], iu[1]] = X[:, :21]
        ops = X[:, 21:36].reshape(n, 5, 3)
        H = np.zeros((n, 7, 5), np.float32)
        H[:, 0, 0] = 1
        H[:, 6, 4] = 1
        H[:, 1:6, 1:4] = ops
        return torch.tensor(A), torch.tensor(H), torch.tensor(X[:, 36:], dtype=torch.float32)

    def fit(self, X, y):
        import torch
        from naslib_petridish.ranker.graph import GraphNet
        torch.set_num_threads(1)
        self.mu, self.sd = X[:, 36:].mean(0), X[:, 36:].std(0) + 1e-6
        Xn = X.copy()
        Xn[:, 36:] = (X[:, 36:] - self.mu) / self.sd
        A, H, E = self._graph(Xn)
        yt = torch.tensor(y, dtype=torch.float32)
        sign = torch.sign(yt[:, None] - yt[None, :])
        self.nets = []
        for k in range(self.members):
            torch.manual_seed(self.seed * 100 + k)
            net = GraphNet(self.hidden, self.layers, extra=E.shape[1])
            opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=5e-4)
            for _ in range(self.epochs):
                s = net(A, H, E)
                d = s[:, None] - s[None, :]
                loss = torch.nn.functional.softplus(-sign * d)[sign != 0].mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            self.nets.append(net.eval())
        return self

    def predict(self, X):
        import torch
        from scipy.stats import rankdata
        Xn = X.copy()
        Xn[:, 36:] = (X[:, 36:] - self.mu) / self.sd
        A, H, E = self._graph(Xn)
        with torch.no_grad():
            return np.mean([rankdata(n(A, H, E).numpy()) for n in self.nets], axis=0)


def target(y: np.ndarray, how: str) -> np.ndarray:
    """``raw`` accuracy, or ``rank``: the accuracy's rank in the training set scaled to
    [0, 1] (outliers - cells that failed to train - no longer dominate a squared loss)."""
    if how == "raw":
        return y
    from scipy.stats import rankdata
    return (rankdata(y) - 1) / max(1, len(y) - 1)
