"""Predictor-guided search: a small ranker on one-hot encodings picks what to query.

The strongest simple baseline (cf. BANANAS, White et al. 2021; one-hot path/op
encodings with a neural predictor): ``predictor_init`` uniform random queries, then,
until the budget is spent, fit an MLP ranker on every queried architecture and query the
``predictor_batch`` unseen candidates it scores highest.

The ranker reads the architecture's tokens one-hot (one block of ``vocab_size`` per
token position) and is trained with a pairwise logistic loss (RankNet, Burges et al.
2005): only the order of the search signal matters, not its scale. ``predictor_ensemble``
rankers are fit per round, one on all labels and the rest on bootstrap resamples; they
take turns adding their best unpicked candidate to the batch (a batched form of
independent Thompson sampling). Measured on NB201 cifar10 (seeds 0-9, budget 150): a
single ranker got stuck in a wrong basin in 2 seeds, the five-member ensemble in 1.
Candidates: every
answerable table row with known tokens when the table is small enough to score whole
(NB201, analog), else a fresh random sample of such rows per fit (NB101).
Deterministic per seed: torch is seeded from the run seed and the fit index, and runs
single-threaded on the CPU.
"""

from __future__ import annotations

import numpy as np

from .baseline import BaselineMethod
from .method import Hooks, SearchContext

#: tables up to this many rows are scored whole at every fit
ENUMERABLE_ROWS = 50_000


def one_hot(tokens: np.ndarray, vocab: int) -> np.ndarray:
    """``(n, seq_len)`` int tokens -> ``(n, seq_len * vocab)`` float32 one-hot."""
    tokens = np.asarray(tokens, dtype=np.int64)
    n, length = tokens.shape
    out = np.zeros((n, length * vocab), dtype=np.float32)
    cols = tokens + np.arange(length)[None, :] * vocab
    out[np.arange(n)[:, None], cols] = 1.0
    return out


class Rankers:
    """``members`` MLP rankers (features -> hidden -> hidden -> 1, ReLU) trained side by
    side as one batched model: stacked weights, one optimizer (Adam acts element-wise, so
    this equals training each alone) and ``members`` times less Python overhead."""

    def __init__(self, weights: list):
        self.weights = weights

    @staticmethod
    def forward(weights: list, x):
        """``x``: ``(members, n, features)`` or ``(n, features)`` shared -> ``(members, n)``."""
        import torch

        w1, b1, w2, b2, w3, b3 = weights
        if x.dim() == 2:
            h = torch.relu(torch.einsum("nf,mfh->mnh", x, w1) + b1[:, None, :])
        else:
            h = torch.relu(torch.bmm(x, w1) + b1[:, None, :])
        h = torch.relu(torch.bmm(h, w2) + b2[:, None, :])
        return torch.bmm(h, w3).squeeze(-1) + b3

    def score(self, x: np.ndarray) -> np.ndarray:
        """``(members, n)`` scores of the candidates ``x``, one row per ranker."""
        import torch

        with torch.no_grad():
            xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            return self.forward(self.weights, xt).numpy()


def fit_rankers(
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    hidden: int,
    epochs: int,
    members: int,
    loss: str = "rank",
    bootstrap: bool = True,
) -> Rankers:
    """Fit ``members`` rankers on ``x`` (features) ordered by ``y`` (higher = better).

    ``loss``: ``"rank"`` (pairwise logistic: only the order of ``y`` counts), or ``"mae"``
    / ``"mse"`` (regress ``y`` standardised to mean 0, std 1, with the absolute or
    squared error: scores are then in those units). ``bootstrap``: members after the
    first fit a bootstrap resample of the labels; ``False`` fits every member on all of
    them (the members then differ only by their initial weights).

    Single-threaded (tiny tensors: threads only add overhead, and one thread keeps the
    float sums in a fixed order); the caller's thread setting is restored afterwards. All randomness
    comes from generators seeded with ``seed``, never from torch's global state.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit(
            x,
            y,
            seed=seed,
            hidden=hidden,
            epochs=epochs,
            members=members,
            loss=loss,
            bootstrap=bootstrap,
        )
    finally:
        torch.set_num_threads(threads)


def _fit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    hidden: int,
    epochs: int,
    members: int,
    loss: str,
    bootstrap: bool,
) -> Rankers:
    import torch

    if loss not in ("rank", "mse", "mae"):
        raise ValueError(f"loss must be 'rank', 'mse' or 'mae', got {loss!r}")
    gen = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    n, f = x.shape
    # member 0 sees every label; the others a bootstrap resample, so the ensemble
    # disagrees where the data is thin (independent Thompson sampling, as in BANANAS)
    resample = (lambda: rng.integers(0, n, size=n)) if bootstrap else (lambda: np.arange(n))
    picks = np.stack([np.arange(n)] + [resample() for _ in range(members - 1)])
    xt = torch.from_numpy(np.ascontiguousarray(x[picks], dtype=np.float32))  # (m, n, f)
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32)[picks])  # (m, n)
    if loss in ("mse", "mae"):
        # z-scores of all the labels: one scale for every member, whatever the metric
        y64 = np.asarray(y, dtype=np.float64)
        yt = (yt - float(y64.mean())) / float(max(y64.std(), 1e-8))
    else:
        # pair (i, j) counts when i is better than j; equal signals give no pair
        better = (yt[:, :, None] > yt[:, None, :]).float()
        n_pairs = better.sum(dim=(1, 2)).clamp(min=1.0)

    def layer(fan_in: int, fan_out: int) -> tuple:
        bound = 1.0 / np.sqrt(fan_in)  # PyTorch's default Linear init scale
        w = torch.empty(members, fan_in, fan_out).uniform_(-bound, bound, generator=gen)
        return w.requires_grad_(), torch.zeros(members, fan_out, requires_grad=True)

    weights = [*layer(f, hidden), *layer(hidden, hidden), *layer(hidden, 1)]
    opt = torch.optim.Adam(weights, lr=3e-3, weight_decay=1e-4)
    for _ in range(epochs):
        s = Rankers.forward(weights, xt)  # (m, n)
        if loss == "mse":
            total = ((s - yt) ** 2).mean(dim=1).sum()
        elif loss == "mae":
            total = (s - yt).abs().mean(dim=1).sum()
        else:
            # softplus(s_j - s_i) = -log sigmoid(s_i - s_j) for every pair where i beats j
            pair = torch.nn.functional.softplus(s[:, None, :] - s[:, :, None]) * better
            total = (pair.sum(dim=(1, 2)) / n_pairs).sum()
        opt.zero_grad()
        total.backward()
        opt.step()
    return Rankers([w.detach() for w in weights])


def pick_batch(scores: np.ndarray, k: int) -> list[int]:
    """``k`` distinct candidate indices: the members take turns, each adding its best
    candidate not yet picked, so one member's blind spot cannot fill the whole batch."""
    orders = [np.argsort(-s, kind="stable") for s in scores]  # ties: lower index first
    cursors = [0] * len(orders)
    picked: list[int] = []
    seen: set[int] = set()
    k = min(k, scores.shape[1])
    m = 0
    while len(picked) < k:
        order = orders[m]
        while int(order[cursors[m]]) in seen:
            cursors[m] += 1
        i = int(order[cursors[m]])
        picked.append(i)
        seen.add(i)
        m = (m + 1) % len(orders)
    return picked


class PredictorGuided(BaselineMethod):
    name = "predictor"

    def __init__(self, ctx: SearchContext, hooks: Hooks | None = None):
        super().__init__(ctx, hooks)
        self.ctx.config.baselines.check()
        self.fit = 0  # rankers fitted so far
        self.fits = 0  # fits planned once the initial sample is in
        self.batch = False  # the pending proposal is a ranked batch (not a random draw)
        table = self.ctx.table
        self.usable = np.flatnonzero(self.ctx.answerable_rows & self.known_tokens)
        self.enumerable = len(table) <= ENUMERABLE_ROWS
        self._feats: np.ndarray | None = None

    def features(self) -> np.ndarray:
        """One-hot features of every usable row (enumerable tables), built once."""
        if self._feats is None:
            self._feats = one_hot(
                self.ctx.table.tokens[self.usable], self.ctx.table.space.vocab_size
            )
        return self._feats

    def propose(self, k: int) -> list[int]:
        cfg = self.ctx.config.baselines
        self.batch = False
        if len(self.rows) < cfg.predictor_init:
            got = self.draw_open()
            return [] if got is None else [got[1]]
        if not self.fits:
            self.fits = -(-max(self.ctx.budget - len(self.rows), 0) // cfg.predictor_batch)
        self.fit += 1
        table, vocab = self.ctx.table, self.ctx.table.space.vocab_size
        known = [r for r in self.rows if self.known_tokens[r]]
        if len(known) < 2:  # nothing to learn from: keep sampling at random
            got = self.draw_open()
            return [] if got is None else [got[1]]
        nets = fit_rankers(
            one_hot(table.tokens[known], vocab),
            np.array([self.signal[r] for r in known]),
            seed=int(self.ctx.config.run.seed) * 100_003 + self.fit,
            hidden=cfg.predictor_hidden,
            epochs=cfg.predictor_epochs,
            members=cfg.predictor_ensemble,
        )
        if self.enumerable:
            open_mask = np.array([int(r) not in self.signal for r in self.usable])
            cand, x = self.usable[open_mask], self.features()[open_mask]
        else:
            pool = self.usable[[int(r) not in self.signal for r in self.usable]]
            take = min(cfg.predictor_candidates, pool.size)
            cand = np.sort(self.rng.choice(pool, size=take, replace=False))
            x = one_hot(table.tokens[cand], vocab)
        if cand.size == 0:
            return []
        self.batch = True
        chosen = pick_batch(nets.score(x), min(cfg.predictor_batch, k))
        return [int(cand[i]) for i in chosen]

    def observe(self, rows: list[int], signals: list[float]) -> None:
        self.record(rows, signals)
        if self.batch:
            self.generation(self.fit, self.fits, float(np.mean(signals)))

    def extra_state(self) -> dict:
        return {**super().extra_state(), "fit": self.fit, "fits": self.fits}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.fit, self.fits = int(state["fit"]), int(state["fits"])
