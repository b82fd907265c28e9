"""Stage 1 apart from the search: the auto-encoder's body learns the space once, and each
round trains only what new labels change.

The Transformer body (embeddings, attention blocks) and the latent projection + decoder
are trained on reconstruction alone (no label, no query) over the space's pool, once per
space, model shape and training setting, and kept in the cache folder
(``cache/stage1``); ``train.stage1_variants`` differently seeded bodies exist, a run of
seed s starts from variant ``s % n`` and a restart moves to the next. A round then trains
the head (``to_z``, the decoder and the predictor heads) on the pool's cached body
features and the labels: reconstruction keeps the decoder faithful, the ranking loss
orders the latent space. That is the paper's separation of training from search, and
most of a run's cost was the body's repeated training.

``train.stage1 = "joint"`` trains the whole model in every run instead (the behaviour
before this module).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Callable

import numpy as np
import torch

from ... import paths
from ...benchmarks.cache import atomic_write
from ...config import Config, TrainConfig
from ...model import ModelShape, TNAOModel, rank_pairs, ranking_loss, reconstruction_loss
from ...train import EpochStats, Trainer, autocast, rank_corr
from ..method import SearchContext
from .sampling import pool_is_fixed, reconstruction_pool, table_pool_rows

STAGE1_SEED = 7_000  # variant v's body is seeded STAGE1_SEED + v (no run seed in it)
FEATURE_BATCH = 4096

#: bodies already loaded in this process (an experiment's worker runs many seeds)
_LOADED: dict[str, tuple[dict, torch.Tensor | None]] = {}


def model_shape(ctx: SearchContext) -> ModelShape:
    m, space = ctx.config.model, ctx.table.space
    return ModelShape(
        space.seq_len,
        space.vocab_size,
        m.d_model,
        m.n_heads,
        m.n_layers,
        m.d_latent,
        m.dropout,
        m.n_predictors,
    )


def new_model(ctx: SearchContext, seed: int) -> TNAOModel:
    torch.manual_seed(seed)
    m, space = ctx.config.model, ctx.table.space
    rel = space.token_relations() if m.graph_attention else None
    return TNAOModel(model_shape(ctx), rel)


def body_key(ctx: SearchContext, variant: int) -> str:
    """What a pretrained body depends on: the space, the model, the reconstruction
    training, the pool and the numerics (device kind and CPU threads change the last
    bits); never the run's seed or labels."""
    c, t = ctx.config, ctx.config.train
    spec = {
        "benchmark": ctx.table.benchmark,
        "space": type(ctx.table.space).__name__,
        "rows": len(ctx.table),
        "model": vars(c.model),
        "train": [t.epochs, t.batch_size, t.lr, t.weight_decay, t.z_noise],
        "pool": c.sample.n_unlabelled,
        "variant": variant,
        "device": ctx.device.split(":")[0],
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    rows = table_pool_rows(ctx)
    if rows is not None:  # a partial table's pool is its answerable rows: which ones
        spec["pool_rows"] = hashlib.sha256(np.asarray(rows, np.int64).tobytes()).hexdigest()
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


def pretrained_body(
    ctx: SearchContext,
    variant: int,
    progress: Callable[[int, int, str], None],
    should_stop: Callable[[], bool],
) -> tuple[dict, torch.Tensor | None]:
    """The pretrained model state of ``variant`` and, where the pool is the same for
    every seed (the whole space, or a partial table's rows), the body's features of it:
    from this process, the cache folder, or trained now (and cached). Deterministic: the
    same key gives the same weights."""
    key = body_key(ctx, variant)
    if key in _LOADED:
        return _LOADED[key]
    path = paths.cache_dir() / "stage1" / f"{ctx.table.benchmark}-{key}.pt"
    got = _read(path, key)
    if got is None:
        state, pool = _pretrain(ctx, variant, progress, should_stop)
        feats = None
        if pool_is_fixed(ctx):
            model = new_model(ctx, 0)
            model.load_state_dict(state)
            feats = pool_features(model.to(ctx.device), pool, ctx.device).cpu()
        buf = io.BytesIO()
        torch.save({"key": key, "model": state, "features": feats}, buf)
        atomic_write(path, lambda f: f.write(buf.getvalue()))
        got = (state, feats)
    _LOADED[key] = got
    return got


def _read(path, key: str) -> tuple[dict, torch.Tensor | None] | None:
    try:
        data = torch.load(path, weights_only=True, map_location="cpu")
    except (OSError, RuntimeError, EOFError, ValueError):
        return None  # absent or damaged: train it again (same weights)
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data["model"], data.get("features")


def _pretrain(
    ctx: SearchContext,
    variant: int,
    progress: Callable[[int, int, str], None],
    should_stop: Callable[[], bool],
) -> tuple[dict, np.ndarray]:
    """The pretrained weights of ``variant`` and the pool they were trained on."""
    seed = STAGE1_SEED + variant
    pool = reconstruction_pool(ctx, seed=seed)  # the run's own pool where seedless
    epochs = ctx.config.train.epochs
    done = {"epoch": 0}

    def on_batch(b: int, n: int, loss: float) -> None:
        e = done["epoch"] + 1
        progress(b, n, f"stage 1 (once): epoch {e}/{epochs}, loss {loss:.4f}")

    def on_epoch(s: EpochStats) -> None:
        done["epoch"] = s.epoch

    trainer = Trainer(
        new_model(ctx, seed),
        ctx.config.train,
        device=ctx.device,
        seed=seed,
        on_batch=on_batch,
        on_epoch=on_epoch,
        should_stop=should_stop,
    )
    none = np.zeros((0, pool.shape[1]), np.int64)
    trainer.fit(pool, none, np.zeros(0), epochs, early_stopping=False)
    state = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
    return state, pool


class HeadAdam:
    """AdamW (decoupled weight decay, bias-corrected moments) for the head's few tensors.

    Written out because building any ``torch.optim`` optimizer imports torch's compiler
    stack (``torch._dynamo``): about two seconds at every start, more than a whole run
    with a cached stage 1 takes. Same update as ``torch.optim.AdamW``; its state
    round-trips through ``state_dict`` like an optimizer's."""

    def __init__(
        self,
        params: list[torch.nn.Parameter],
        lr: float,
        weight_decay: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params, self.lr, self.wd, self.betas, self.eps = params, lr, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        ps: list[torch.Tensor] = [self.params[i] for i in live]
        gs: list[torch.Tensor] = [g for i in live if (g := self.params[i].grad) is not None]
        ms, vs = [self.m[i] for i in live], [self.v[i] for i in live]
        # multi-tensor ops: one call per update term for all tensors (as torch's
        # foreach AdamW does); a loop over the tensors costs more than the step itself
        torch._foreach_mul_(ps, 1 - self.lr * self.wd)
        torch._foreach_lerp_(ms, gs, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - b2)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, c2**0.5)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(ps, ms, denom, value=-self.lr / c1)

    def state_dict(self) -> dict:
        return {"m": [t.clone() for t in self.m], "v": [t.clone() for t in self.v], "t": self.t}

    def load_state_dict(self, state: dict) -> None:
        self.m = [t.clone() for t in state["m"]]
        self.v = [t.clone() for t in state["v"]]
        self.t = int(state["t"])


class HeadTrainer(Trainer):
    """Trains the head of a model whose body is pretrained (and frozen), on cached body
    features of the pool: an epoch is ``train.head_batches`` batches. Same callbacks and
    state as ``Trainer``."""

    def __init__(self, model: TNAOModel, cfg: TrainConfig, pool_features: torch.Tensor, **kw):
        for name, p in model.named_parameters():
            p.requires_grad_(not name.startswith(model.BODY))
        super().__init__(model, cfg, **kw)
        self.pool_features = pool_features

    def make_optimizer(self) -> HeadAdam:
        c = self.cfg
        return HeadAdam(self.model.head_parameters(), lr=c.lr, weight_decay=c.weight_decay)

    @torch.no_grad()
    def features(self, tokens: np.ndarray) -> torch.Tensor:
        self.model.eval()
        t = torch.as_tensor(tokens, dtype=torch.long, device=self.device)
        return self.model.features(t)

    def fit(  # the pool's features come from the constructor
        self,
        pool: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        epochs: int,
        **_ignored,
    ) -> EpochStats | None:
        cfg, dev, model = self.cfg, self.device, self.model
        f_pool, t_pool = self.pool_features, torch.as_tensor(pool, dtype=torch.long, device=dev)
        f_lab = self.features(x)
        t_lab = torch.as_tensor(x, dtype=torch.long, device=dev)
        y_t = torch.as_tensor(y, dtype=torch.float32, device=dev)
        boot = self.label_weights(len(y))
        # every label in each batch: the same ranking pairs at every step, built once
        fixed = None if len(f_lab) > cfg.label_batch else rank_pairs(y_t, cfg.top_weight, boot)
        last = None
        model.train()
        while self.epoch < epochs:
            t0 = time.perf_counter()
            sums = torch.zeros(3, dtype=torch.float64, device=dev)
            for b in range(cfg.head_batches):
                if self.should_stop():
                    from ...errors import Stopped

                    raise Stopped()
                n = cfg.head_batch_size
                idx = torch.randint(len(f_pool), (n,), generator=self.gen).to(dev)
                if len(f_lab) > cfg.label_batch:
                    pick = torch.randperm(len(f_lab), generator=self.gen)[: cfg.label_batch]
                    fl, tl, yl = f_lab[pick], t_lab[pick], y_t[pick]
                    bl = boot[pick] if boot is not None else None
                else:
                    fl, tl, yl = f_lab, t_lab, y_t
                    bl = boot
                with autocast(dev):
                    z = model.to_z(torch.cat([f_pool[idx], fl]))
                    rec = reconstruction_loss(model.decode(z), torch.cat([t_pool[idx], tl]))
                    s = model.predict_all(z[len(idx) :])
                    rank = ranking_loss(s, yl, cfg.rank_loss, cfg.margin, cfg.top_weight, bl, fixed)
                    loss = rec + cfg.rank_weight * rank
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                sums += torch.stack([rec.detach(), rank.detach(), loss.detach()]).double()
                if self.on_batch and b + 1 == cfg.head_batches:
                    self.on_batch(b + 1, cfg.head_batches, loss.item())
            self.epoch += 1
            with torch.no_grad():
                model.eval()
                tau, _ = rank_corr(model.predict(model.to_z(f_lab)).cpu().numpy(), y)
                model.train()
            last = EpochStats.of(
                self.epoch,
                epochs,
                sums,
                cfg.head_batches,
                val_tau=math.nan,  # no held-out labels: every label trains the head
                val_spearman=math.nan,
                train_tau=tau,
                seconds=time.perf_counter() - t0,
            )
            if self.on_epoch:
                self.on_epoch(last)
        return last

    @torch.no_grad()
    def pool_latents(self) -> tuple[np.ndarray, np.ndarray]:
        """Latents and predicted scores of the pool, from its cached features."""
        self.model.eval()
        z = self.model.to_z(self.pool_features)
        s = self.model.predict(z)
        return z.float().cpu().numpy().astype(np.float64), s.float().cpu().numpy().astype(
            np.float64
        )


def pool_features(model: TNAOModel, pool: np.ndarray, device: str) -> torch.Tensor:
    """The body's features of every pool cell (computed once per body)."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(pool), FEATURE_BATCH):
            t = torch.as_tensor(pool[i : i + FEATURE_BATCH], dtype=torch.long, device=device)
            out.append(model.features(t))
    return torch.cat(out)


def uses_cache(config: Config) -> bool:
    return config.train.stage1 == "cached"


def pool_latents(trainer: Trainer, pool: np.ndarray, device: str) -> tuple[np.ndarray, np.ndarray]:
    """Latents and predicted scores (the heads' mean) of every ``pool`` cell."""
    if isinstance(trainer, HeadTrainer):
        return trainer.pool_latents()
    zs, ss = [], []
    model = trainer.model
    model.eval()
    with torch.no_grad():
        for i in range(0, len(pool), FEATURE_BATCH):
            z = model.encode(torch.as_tensor(pool[i : i + FEATURE_BATCH], device=device))
            zs.append(z.float().cpu().numpy())
            ss.append(model.predict(z).float().cpu().numpy())
    return np.concatenate(zs).astype(np.float64), np.concatenate(ss).astype(np.float64)


def head_scores(model: TNAOModel, z: np.ndarray, device: str) -> np.ndarray:
    """Each predictor head's score of the latents ``z``: ``(heads, n)``."""
    model.eval()
    with torch.no_grad():
        zt = torch.as_tensor(z, dtype=torch.float32, device=device)
        return model.predict_all(zt).T.float().cpu().numpy().astype(np.float64)
