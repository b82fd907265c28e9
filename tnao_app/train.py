"""Training loop of the TNAO auto-encoder + predictor.

One epoch is one shuffled pass over the reconstruction pool (labelled and free unlabelled
architectures). Every batch also carries the labelled training set (or a random part of
it), which adds the ranking loss on their search signal:

    loss = reconstruction CE (pool batch + labelled) + rank_weight * pairwise ranking loss

A validation split of the labelled set (never trained on for ranking) gives Kendall tau
and Spearman each epoch; early stopping keeps the weights of the best validation tau.
Callbacks fire per batch and per epoch (the pipeline turns them into events and
checkpoints); ``should_stop`` is checked every batch. The trainer's whole state (model,
optimizer, shuffling generator, global torch RNG, early-stopping record) round-trips
through ``state_dict``/``load_state_dict``, so a resumed run is bit-identical.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .config import TrainConfig
from .errors import Stopped
from .model import TNAOModel, rank_pairs, ranking_loss, reconstruction_loss

MIN_VAL = 5  # fewer held-out labels than this give no usable tau: train on all of them


@dataclass
class EpochStats:
    epoch: int  # 1-based, counted across calls of fit() on one trainer
    epochs: int
    loss_rec: float
    loss_rank: float
    loss_total: float
    val_tau: float
    val_spearman: float
    train_tau: float
    seconds: float

    @classmethod
    def of(cls, epoch: int, epochs: int, sums: torch.Tensor, batches: int, **rest) -> EpochStats:
        """Stats from the summed (reconstruction, ranking, total) losses of an epoch."""
        m = sums.cpu().numpy() / batches
        return cls(epoch, epochs, float(m[0]), float(m[1]), float(m[2]), **rest)


def rank_corr(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """Kendall tau-b and Spearman rho (ties averaged), as scipy.stats computes them;
    NaN when either side is constant or too short. Written out for the few hundred
    labels a run has: importing scipy.stats costs most of a second at every start."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if len(pred) < 2 or np.ptp(pred) == 0 or np.ptp(true) == 0:
        return float("nan"), float("nan")
    a = np.sign(pred[:, None] - pred[None, :])
    b = np.sign(true[:, None] - true[None, :])
    iu = np.triu_indices(len(pred), 1)
    a, b = a[iu], b[iu]
    tau = float((a * b).sum() / np.sqrt(np.abs(a).sum() * np.abs(b).sum()))
    rho = float(np.corrcoef(_ranks(pred), _ranks(true))[0, 1])
    return tau, rho


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(x)]
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based positions start+1 .. end
    out = np.empty(len(x))
    out[order] = np.repeat(avg, ends - starts)
    return out


def autocast(device: str):
    """bf16 autocast on CUDA (fast, safe for this small model); a no-op on CPU."""
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def rng_state() -> dict:
    """Global torch RNG states (CPU and every CUDA device)."""
    out: dict[str, object] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Fits a ``TNAOModel`` on a reconstruction pool and labelled architectures."""

    def __init__(
        self,
        model: TNAOModel,
        cfg: TrainConfig,
        *,
        device: str = "cpu",
        seed: int = 0,
        on_batch: Callable[[int, int, float], None] | None = None,
        on_epoch: Callable[[EpochStats], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        bootstrap: bool = False,
    ):
        self.model = model.to(device)
        self.seed, self.bootstrap = seed, bootstrap
        self.cfg = cfg
        self.device = device
        self.on_batch = on_batch
        self.on_epoch = on_epoch
        self.should_stop = should_stop or (lambda: False)
        self.opt = self.make_optimizer()
        self.gen = torch.Generator().manual_seed(seed)
        self.epoch = 0  # epochs done in total (all fit() calls)
        self._reset_stopping()

    def label_weights(self, n: int) -> torch.Tensor | None:
        """With ``bootstrap``: each predictor head's weight of each of ``n`` labels, a
        bootstrap resample's counts (Poisson(1); the first head keeps every label once),
        so the heads disagree where the labels leave the order open (``search.picks =
        "turns"`` queries where they do). Drawn from the seed and ``n``: the same after a
        resume."""
        if not self.bootstrap:
            return None
        k = len(self.model.heads)
        w = np.random.default_rng([self.seed, n, 7]).poisson(1.0, (n, k)).astype(np.float32)
        w[:, 0] = 1.0
        return torch.as_tensor(w, device=self.device)

    def make_optimizer(self) -> Any:
        # fused: one kernel for all parameters (default model on CPU: 0.98 ms -> 0.19 ms
        # a step; benchmarks/bench_attention.py)
        return torch.optim.AdamW(
            self.model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay, fused=True
        )

    def _reset_stopping(self) -> None:
        self.best_tau = -math.inf
        self.best_state: dict | None = None
        self.bad_epochs = 0

    # -- state -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "opt": copy.deepcopy(self.opt.state_dict()),
            "gen": self.gen.get_state(),
            "torch_rng": rng_state(),
            "epoch": self.epoch,
            "best_tau": self.best_tau,
            "best_state": copy.deepcopy(self.best_state),
            "bad_epochs": self.bad_epochs,
            "seed": self.seed,  # a restarted model's own: its bootstrap weights follow it
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        set_rng_state(state["torch_rng"])
        self.epoch = state["epoch"]
        self.best_tau = state["best_tau"]
        self.best_state = copy.deepcopy(state["best_state"])
        self.bad_epochs = state["bad_epochs"]
        self.seed = state.get("seed", self.seed)  # saved before bootstrap: the run's seed

    # -- data ------------------------------------------------------------------------
    def split(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Train / validation indices of ``n`` labelled rows (deterministic per seed)."""
        n_val = int(round(n * self.cfg.val_fraction))
        if n_val < MIN_VAL or n - n_val < 2:
            return np.arange(n), np.arange(0)
        perm = np.random.default_rng(seed).permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    @torch.no_grad()
    def scores(self, tokens: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Predicted scores of token rows (eval mode)."""
        self.model.eval()
        out = []
        for i in range(0, len(tokens), batch):
            t = torch.as_tensor(tokens[i : i + batch], dtype=torch.long, device=self.device)
            with autocast(self.device):
                out.append(self.model.predict(self.model.encode(t)).float().cpu())
        self.model.train()
        return torch.cat(out).numpy() if out else np.zeros(0)

    # -- loop ------------------------------------------------------------------------
    def fit(
        self,
        pool: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        epochs: int,
        *,
        split_seed: int = 0,
        early_stopping: bool = True,
        max_batches: int = 0,
    ) -> EpochStats | None:
        """Train until ``self.epoch`` reaches ``epochs`` (so a resumed trainer continues
        where it stopped). ``pool``: (N, L) reconstruction tokens; ``x``, ``y``: labelled
        tokens and signals; ``max_batches`` > 0 caps the batches of an epoch. Returns the
        last epoch's stats."""
        cfg = self.cfg
        tr, va = self.split(len(x), split_seed)
        dev = self.device
        pool_t = torch.as_tensor(pool, dtype=torch.long)
        x_tr = torch.as_tensor(x[tr], dtype=torch.long, device=dev)
        y_tr = torch.as_tensor(y[tr], dtype=torch.float32, device=dev)
        w_all = self.label_weights(len(x))
        w_tr = None if w_all is None else w_all[torch.as_tensor(tr, device=dev)]
        # every label in each batch: the same ranking pairs at every step, built once
        fixed = None if len(x_tr) > cfg.label_batch else rank_pairs(y_tr, cfg.top_weight, w_tr)
        n_batches = max(1, math.ceil(len(pool_t) / cfg.batch_size))
        if max_batches:  # fine-tuning: a part of the pool keeps the decoder in shape
            n_batches = min(n_batches, max_batches)
        last = None
        self.model.train()
        while self.epoch < epochs:
            t0 = time.perf_counter()
            perm = torch.randperm(len(pool_t), generator=self.gen)
            # Loss parts add up on the device: no host synchronisation per step on a GPU.
            sums = torch.zeros(3, dtype=torch.float64, device=dev)
            report_every = 1 if dev == "cpu" else 16  # .item() waits for the GPU
            for b in range(n_batches):
                if self.should_stop():
                    raise Stopped()
                idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                if len(x_tr) > cfg.label_batch:
                    pick = torch.randperm(len(x_tr), generator=self.gen)[: cfg.label_batch]
                    xl, yl = x_tr[pick.to(dev)], y_tr[pick.to(dev)]
                    wl = None if w_tr is None else w_tr[pick.to(dev)]
                else:
                    xl, yl, wl = x_tr, y_tr, w_tr
                toks = torch.cat([pool_t[idx].to(dev), xl])
                with autocast(dev):
                    z, logits, s = self.model(toks)
                    if cfg.z_noise > 0:  # denoising: nearby latents decode alike
                        noise = torch.randn(z.shape, generator=self.gen).to(dev) * cfg.z_noise
                        logits = self.model.decode(z + noise)
                    rec = reconstruction_loss(logits, toks)
                    rank = ranking_loss(
                        s[len(idx) :], yl, cfg.rank_loss, cfg.margin, cfg.top_weight, wl, fixed
                    )
                    loss = rec + cfg.rank_weight * rank
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                sums += torch.stack([rec.detach(), rank.detach(), loss.detach()]).double()
                if self.on_batch and ((b + 1) % report_every == 0 or b + 1 == n_batches):
                    self.on_batch(b + 1, n_batches, loss.item())
            self.epoch += 1
            tau_tr, _ = rank_corr(self.scores(x[tr]), y[tr]) if len(tr) else (np.nan, np.nan)
            tau, rho = rank_corr(self.scores(x[va]), y[va]) if len(va) else (np.nan, np.nan)
            if early_stopping and len(va):
                if tau > self.best_tau:
                    self.best_tau, self.bad_epochs = tau, 0
                    self.best_state = copy.deepcopy(self.model.state_dict())
                else:
                    self.bad_epochs += 1
            last = EpochStats.of(
                self.epoch,
                epochs,
                sums,
                n_batches,
                val_tau=tau,
                val_spearman=rho,
                train_tau=tau_tr,
                seconds=time.perf_counter() - t0,
            )
            stop_early = early_stopping and len(va) and self.bad_epochs >= cfg.patience
            if stop_early:
                self.epoch = epochs  # the checkpoint below must say "training is done"
            if self.epoch >= epochs and self.best_state is not None:
                self.model.load_state_dict(self.best_state)
            if self.on_epoch:
                self.on_epoch(last)
        return last

    def begin_round(self) -> None:
        """Forget the early-stopping record before fine-tuning on more labels."""
        self._reset_stopping()
