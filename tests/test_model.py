"""The TNAO model and its losses (synthetic tokens: these test mechanics only)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tnao_app.benchmarks.nb201 import SPACE
from tnao_app.model import (
    ModelShape,
    TNAOModel,
    cpu_attention,
    rank_pairs,
    ranking_loss,
    reconstruction_loss,
)


def _model(rel=True, **kw) -> TNAOModel:
    torch.manual_seed(0)
    return TNAOModel(
        ModelShape(6, 5, d_model=16, n_heads=2, d_latent=8, **kw),
        SPACE.token_relations() if rel else None,
    )


def test_shapes_and_eval_matches_train_mode():
    m = _model(n_predictors=3)
    t = torch.randint(0, 5, (7, 6))
    z, logits, s = m(t)
    assert z.shape == (7, 8) and logits.shape == (7, 6, 5) and s.shape == (7, 3)
    with torch.no_grad():
        m.rel_bias.copy_(torch.randn(2, 2))  # a non-trivial graph bias
        train_out = m.predict(m.encode(t))
        m.eval()
        eval_out = m.predict(m.encode(t))
    assert torch.isfinite(eval_out).all()
    assert torch.allclose(train_out, eval_out)


def test_cpu_attention_matches_torch_sdpa():
    # The CPU path reorders the softmax for speed; values and gradients must be torch's.
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(5, 2, 6, 4, generator=g, requires_grad=True) for _ in range(3))
    for bias in (torch.randn(1, 2, 6, 6, generator=g), None):
        ours = cpu_attention(q, k, v, bias, 0.0)
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        assert torch.allclose(ours, ref, atol=1e-6)
        g1 = torch.autograd.grad(ours.square().sum(), (q, k, v))
        g2 = torch.autograd.grad(ref.square().sum(), (q, k, v))
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(g1, g2, strict=True))


def test_graph_bias_changes_the_encoding():
    m = _model()
    t = torch.randint(0, 5, (4, 6))
    with torch.no_grad():
        a = m.encode(t)
        m.rel_bias.copy_(torch.tensor([[3.0, -3.0], [3.0, -3.0]]))
        b = m.encode(t)
    assert not torch.allclose(a, b)
    assert _model(rel=False).relations is None


def test_ranking_loss_prefers_correct_order():
    y = torch.tensor([3.0, 2.0, 1.0])
    good = ranking_loss(torch.tensor([3.0, 2.0, 1.0]), y)
    bad = ranking_loss(torch.tensor([1.0, 2.0, 3.0]), y)
    assert good < bad
    assert ranking_loss(torch.tensor([1.0, 2.0, 3.0]), y, "hinge", 0.1) > 0
    assert ranking_loss(torch.tensor([3.0, 2.0, 1.0]), y, "hinge", 0.1) == 0
    # no pair with different targets: zero, and still differentiable
    s = torch.zeros(3, requires_grad=True)
    ranking_loss(s, torch.ones(3)).backward()


def _loss_as_first_written(scores, target, kind, margin, top_weight, weights):
    """ranking_loss as it was before its pairs could be built once (the reference)."""
    scores = scores[:, None] if scores.dim() == 1 else scores
    better = target[:, None] > target[None, :]
    if not bool(better.any()):
        return scores.sum() * 0.0
    d = (scores[:, None, :] - scores[None, :, :])[better]
    loss = F.relu(margin - d) if kind == "hinge" else F.softplus(-d)
    w = None
    if top_weight:
        r = torch.argsort(torch.argsort(-target)).float()
        w = (1.0 / torch.log2(2.0 + r))[:, None].expand_as(better)[better]
    if weights is not None:
        pw = (weights[:, None, :] * weights[None, :, :])[better]
        pw = pw if w is None else pw * w[:, None]
        return ((loss * pw).sum(0) / pw.sum(0).clamp_min(1e-12)).mean()
    if w is not None:
        return (loss * w[:, None]).sum() / (w.sum() * loss.shape[1])
    return loss.mean()


def test_pairs_built_once_give_the_same_loss_and_gradients():
    """A fit whose batches reuse every label builds the ranking pairs once: bit for bit
    the loss (and the gradients) of the loss as first written, pairs built per step."""
    g = torch.Generator().manual_seed(3)
    y = torch.randint(0, 6, (30,), generator=g).float()  # ties give no pair
    w = torch.poisson(torch.ones(30, 4), generator=g)
    for kind in ("bpr", "hinge"):
        for top in (False, True):
            for weights in (None, w):
                s1 = torch.randn(30, 4, generator=g, requires_grad=True)
                s2 = s1.detach().clone().requires_grad_()
                a = _loss_as_first_written(s1, y, kind, 0.1, top, weights)
                pairs = rank_pairs(y, top, weights)
                b = ranking_loss(s2, y, kind, 0.1, top, weights, pairs)
                a.backward(), b.backward()
                assert torch.equal(a, b) and torch.equal(s1.grad, s2.grad)
    assert not rank_pairs(torch.ones(5)).any  # all equal: no pair


def test_top_weighted_ranking_loss_cares_most_about_the_order_at_the_top():
    y = torch.tensor([4.0, 3.0, 2.0, 1.0])
    top_swapped = torch.tensor([3.0, 4.0, 2.0, 1.0])  # the best two in the wrong order
    bottom_swapped = torch.tensor([4.0, 3.0, 1.0, 2.0])  # the worst two in the wrong order
    # unweighted, both mistakes cost the same; top-weighted, the one at the top costs more
    assert torch.isclose(ranking_loss(top_swapped, y), ranking_loss(bottom_swapped, y))
    assert ranking_loss(top_swapped, y, top_weight=True) > ranking_loss(
        bottom_swapped, y, top_weight=True
    )
    good = ranking_loss(y, y, top_weight=True)
    assert good < ranking_loss(y.flip(0), y, top_weight=True)
    heads = torch.stack([top_swapped, y], dim=1)  # (B, K): one column per head
    assert ranking_loss(heads, y, top_weight=True).shape == ()


def test_per_head_label_weights_resample_what_each_head_learns():
    """Bootstrap weights (B, K): all ones is the unweighted loss; a head whose weight of
    a label is 0 gets no gradient from any pair with that label, the other heads do."""
    y = torch.tensor([4.0, 3.0, 2.0, 1.0])
    s = torch.tensor([[3.0, 3.0], [4.0, 4.0], [2.0, 2.0], [1.0, 1.0]], requires_grad=True)
    ones = torch.ones(4, 2)
    for top in (False, True):
        plain = ranking_loss(s, y, top_weight=top)
        assert torch.isclose(ranking_loss(s, y, top_weight=top, weights=ones), plain)
    w = ones.clone()
    w[1, 1] = 0.0  # head 1 leaves out the second-best label
    ranking_loss(s, y, weights=w).backward()
    assert s.grad is not None
    assert s.grad[1, 1] == 0 and s.grad[1, 0] != 0
    # a label counted twice weighs its pairs twice
    w2 = ones.clone()
    w2[0, 1] = 2.0
    assert not torch.isclose(ranking_loss(s, y, weights=w2), ranking_loss(s, y))


def test_autoencoder_learns_to_reconstruct_nb201_cells():
    m = _model()
    rng = np.random.default_rng(0)
    toks = torch.as_tensor(np.stack([SPACE.to_tokens(SPACE.sample(rng)) for _ in range(128)]))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(100):
        _, logits, _ = m(toks)
        loss = reconstruction_loss(logits, toks)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (m.decode(m.encode(toks)).argmax(-1) == toks).float().mean()
    assert acc > 0.95
