"""The TNAO model: a Transformer auto-encoder of architecture tokens with a predictor head.

    tokens (B, L) --embed + position--> Transformer encoder --flatten--> z (B, d_latent)
    z --MLP--> per-position logits (B, L, V)          (decoder: reconstruction)
    z --K small MLPs, averaged--> score (B,)          (predictor: ranks architectures)

The predictor is trained with a ranking loss, so the latent space is ordered by
performance rather than fitted to absolute accuracies; the decoder keeps z a faithful map
of the architecture, so a search in z can be turned back into an architecture.

"Improved" attention *(choice)*: when the space gives ``token_relations`` (which token
positions touch in the cell's DAG), each head learns one additive bias for related and one
for unrelated pairs, so attention can prefer a cell's graph neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelShape:
    seq_len: int
    vocab_size: int
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    d_latent: int = 16
    dropout: float = 0.0
    n_predictors: int = 4


class Block(nn.Module):
    """Pre-norm Transformer block: self-attention with an optional additive bias per
    head, then an MLP (written out, as torch's fused encoder mishandles per-head float
    masks in eval mode)."""

    def __init__(self, d: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.drop = nn.Dropout(dropout)
        self.p = dropout

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=2)
        q, k, v = (t.view(B, L, self.n_heads, D // self.n_heads).transpose(1, 2) for t in (q, k, v))
        if bias is not None:
            bias = bias.to(q.dtype)
        if q.is_cuda:
            a = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, dropout_p=self.p if self.training else 0.0
            )
        else:
            a = cpu_attention(q, k, v, bias, self.p if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, L, D)))
        return x + self.drop(self.mlp(self.ln2(x)))


def cpu_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None, p: float
) -> torch.Tensor:
    """Attention as scaled_dot_product_attention computes it, faster on CPU for short
    sequences: a softmax over a last dimension of a few tokens is slow there, so it runs
    with the batch innermost (measured, B=768, L=6: 1.58 ms against 0.06 ms; training the
    default model 1.2x faster; benchmarks/bench_attention.py)."""
    a = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5  # (B, H, Lq, Lk)
    if bias is not None:
        a = a + bias
    a = a.permute(1, 2, 3, 0).softmax(dim=2).permute(3, 0, 1, 2)
    if p > 0:
        a = F.dropout(a, p)
    return a @ v


class TNAOModel(nn.Module):
    def __init__(self, shape: ModelShape, relations: np.ndarray | None = None):
        super().__init__()
        self.shape = shape
        L, V, D = shape.seq_len, shape.vocab_size, shape.d_model
        self.tok = nn.Embedding(V, D)
        self.pos = nn.Parameter(torch.randn(L, D) * 0.02)
        self.blocks = nn.ModuleList(
            Block(D, shape.n_heads, shape.dropout) for _ in range(shape.n_layers)
        )
        self.norm = nn.LayerNorm(D)
        # Flatten rather than mean-pool: z must keep which op sits on which edge.
        self.to_z = nn.Linear(L * D, shape.d_latent)
        self.decoder = nn.Sequential(
            nn.Linear(shape.d_latent, 4 * D), nn.GELU(), nn.Linear(4 * D, L * V)
        )
        # An ensemble of small heads: their mean ranks better than one head on few labels.
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(shape.d_latent, 2 * D), nn.GELU(), nn.Linear(2 * D, 1))
            for _ in range(shape.n_predictors)
        )
        if relations is not None:
            self.register_buffer("relations", torch.as_tensor(relations, dtype=torch.bool))
            self.rel_bias: nn.Parameter | None = nn.Parameter(torch.zeros(shape.n_heads, 2))
        else:
            self.relations = None
            self.rel_bias = None

    def _attn_bias(self) -> torch.Tensor | None:
        if self.relations is None:
            return None
        b = self.rel_bias  # (H, 2): bias for related / unrelated token pairs
        return torch.where(self.relations, b[:, :1, None], b[:, 1:, None])[None]  # (1,H,L,L)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The Transformer body's output (B, L * d_model): what ``to_z`` projects."""
        h = self.tok(tokens) + self.pos
        bias = self._attn_bias()
        for block in self.blocks:
            h = block(h, bias)
        return self.norm(h).flatten(1)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Latent ``z`` (B, d_latent) of integer tokens (B, L)."""
        return self.to_z(self.features(tokens))

    #: the parameters of the body (token and position embeddings, attention blocks):
    #: what stage 1 trains on reconstruction alone and later rounds keep
    BODY = ("tok.", "pos", "blocks.", "norm.", "rel_bias")

    def head_parameters(self) -> list[nn.Parameter]:
        """``to_z``, the decoder and the predictor heads: what a round trains on a
        pretrained body."""
        return [p for n, p in self.named_parameters() if not n.startswith(self.BODY)]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Per-position logits (B, L, V) of latents (B, d_latent)."""
        return self.decoder(z).view(z.shape[0], self.shape.seq_len, self.shape.vocab_size)

    def predict_all(self, z: torch.Tensor) -> torch.Tensor:
        """Each head's score (B, K)."""
        return torch.cat([h(z) for h in self.heads], dim=1)

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """The ensemble's score (B,): higher = better architecture."""
        return self.predict_all(z).mean(dim=1)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encode(tokens)
        return z, self.decode(z), self.predict_all(z)


def reconstruction_loss(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the decoder's logits against the input tokens."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tokens.reshape(-1))


@dataclass
class RankPairs:
    """The pairs a ranking loss compares, from the targets alone: a batch that reuses the
    same labels (every label fits in one) builds them once per fit, not once per step."""

    better: torch.Tensor  # (B, B): row i beats column j
    any: bool  # at least one pair (all targets equal: none)
    w: torch.Tensor | None  # (P,) top weights of the pairs, or None
    pw: torch.Tensor | None  # (P, K) per-head pair weights (with w folded in), or None
    pw_sum: torch.Tensor | None  # (K,) their sums, clamped away from 0


def rank_pairs(
    target: torch.Tensor, top_weight: bool = False, weights: torch.Tensor | None = None
) -> RankPairs:
    """The pairs of ``ranking_loss`` for ``target`` (B,) and per-head ``weights`` (B, K)."""
    better = target[:, None] > target[None, :]
    if not bool(better.any()):
        return RankPairs(better, False, None, None, None)
    w = None
    if top_weight:
        r = torch.argsort(torch.argsort(-target)).float()  # 0 = best (ties: either order)
        w = (1.0 / torch.log2(2.0 + r))[:, None].expand_as(better)[better]  # (P,)
    pw = pw_sum = None
    if weights is not None:
        pw = (weights[:, None, :] * weights[None, :, :])[better]  # (P, K)
        pw = pw if w is None else pw * w[:, None]
        pw_sum = pw.sum(0).clamp_min(1e-12)
    return RankPairs(better, True, w, pw, pw_sum)


def ranking_loss(
    scores: torch.Tensor,
    target: torch.Tensor,
    kind: str = "bpr",
    margin: float = 0.1,
    top_weight: bool = False,
    weights: torch.Tensor | None = None,
    pairs: RankPairs | None = None,
) -> torch.Tensor:
    """Pairwise ranking loss over every ordered pair with different targets.

    ``scores`` is (B,) or (B, K) (one column per head, each trained on the same pairs);
    ``target`` (B,) is the search signal. ``bpr``: -log sigmoid(s_i - s_j) for y_i > y_j;
    ``hinge``: max(0, margin - (s_i - s_j)). ``top_weight``: each pair weighs
    1 / log2(2 + r_i), r_i the rank of its better member among the targets (0 = best),
    as NDCG discounts a list: a search needs the order at the top right first.
    ``weights`` (B, K): each head's weight of each target (bootstrap counts); a pair
    weighs the product of its members' weights for that head. ``pairs``: those of
    ``rank_pairs(target, top_weight, weights)``, built before (the same loss).
    """
    if scores.dim() == 1:
        scores = scores[:, None]
    scores = scores.float()
    p = rank_pairs(target, top_weight, weights) if pairs is None else pairs
    if not p.any:
        return scores.sum() * 0.0
    diff = scores[:, None, :] - scores[None, :, :]  # (B, B, K)
    d = diff[p.better]  # (P, K)
    if kind == "hinge":
        loss = F.relu(margin - d)
    else:
        loss = F.softplus(-d)
    if p.pw is not None and p.pw_sum is not None:
        return ((loss * p.pw).sum(0) / p.pw_sum).mean()
    if p.w is not None:
        return (loss * p.w[:, None]).sum() / (p.w.sum() * loss.shape[1])
    return loss.mean()
