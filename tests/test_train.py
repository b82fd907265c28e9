"""The trainer on real NB201 data (a small slice, a tiny model: seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tnao_app.config import TrainConfig
from tnao_app.errors import Stopped
from tnao_app.model import ModelShape, TNAOModel
from tnao_app.train import Trainer, rank_corr


def _data(table, n_lab=60, n_pool=1024, seed=0):
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(table), n_lab, replace=False)
    y = table.metric("cifar10-valid/x-valid@200")[rows]
    pool = table.tokens[rng.choice(len(table), n_pool, replace=False)].astype(np.int64)
    return pool, table.tokens[rows].astype(np.int64), y


def _trainer(table, **kw):
    torch.manual_seed(0)
    m = TNAOModel(
        ModelShape(6, 5, d_model=16, n_heads=2, d_latent=8, n_predictors=2),
        table.space.token_relations(),
    )
    cfg = TrainConfig(batch_size=256, val_fraction=0.25, epochs=4, **kw)
    return Trainer(m, cfg, seed=0)


def test_callbacks_and_predictor_learns(nb201_table):
    pool, x, y = _data(nb201_table)
    tr = _trainer(nb201_table)
    batches, epochs = [], []
    tr.on_batch = lambda d, t, loss: batches.append((d, t, loss))
    tr.on_epoch = epochs.append
    last = tr.fit(pool, x, y, 4, early_stopping=False)
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert len(batches) == 4 * 4 and batches[-1][:2] == (4, 4)
    assert epochs[-1].loss_rec < epochs[0].loss_rec
    # held-out labels (15 of 60) are ranked better than chance by the predictor
    assert last.val_tau > 0.2 and np.isfinite(last.val_spearman)


def test_bootstrap_heads_learn_from_resamples_the_same_after_a_resume(nb201_table):
    """``bootstrap``: each head but the first weighs the labels by a Poisson(1) resample
    drawn from the seed and the label count (so a resumed trainer draws the same), and
    the heads trained so disagree more than heads trained on the same labels."""
    pool, x, y = _data(nb201_table)

    def spread(boot: bool) -> float:
        tr = _trainer(nb201_table)
        tr.bootstrap = boot
        tr.fit(pool, x, y, 4, early_stopping=False)
        with torch.no_grad():
            z = tr.model.encode(torch.as_tensor(pool))
            s = tr.model.predict_all(z).numpy()
        return float(np.mean([1 - rank_corr(s[:, 0], s[:, k])[0] for k in range(1, s.shape[1])]))

    tr = _trainer(nb201_table)
    assert tr.label_weights(60) is None
    tr.bootstrap = True
    w = tr.label_weights(60)
    assert w is not None and w.shape == (60, 2) and bool((w[:, 0] == 1).all())
    assert torch.equal(w, tr.label_weights(60)) and not torch.equal(w, tr.label_weights(61))
    assert bool((w[:, 1] == 0).any()) and bool((w[:, 1] >= 2).any())  # a resample
    assert spread(True) > spread(False)


def test_stop_flag_checked_every_batch(nb201_table):
    pool, x, y = _data(nb201_table)
    tr = _trainer(nb201_table)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    tr.should_stop = stop
    with pytest.raises(Stopped):
        tr.fit(pool, x, y, 4)
    assert tr.epoch == 0


def test_state_round_trip_is_bit_identical(nb201_table):
    pool, x, y = _data(nb201_table)
    a = _trainer(nb201_table)
    a.fit(pool, x, y, 2)
    saved = a.state_dict()
    a.fit(pool, x, y, 4)
    b = _trainer(nb201_table)
    torch.manual_seed(123)  # whatever the global RNG holds, the state restores it
    b.load_state_dict(saved)
    b.fit(pool, x, y, 4)
    np.testing.assert_array_equal(a.scores(x), b.scores(x))


def test_early_stopping_restores_best_and_ends(nb201_table):
    pool, x, y = _data(nb201_table)
    tr = _trainer(nb201_table, patience=1, lr=0.05)  # a high rate: tau wobbles
    seen = []
    tr.on_epoch = seen.append
    tr.fit(pool, x, y, 30)
    assert tr.epoch == 30  # marked done, so a resumed run does not train on
    assert len(seen) < 30 or tr.best_state is not None
    if len(seen) < 30:
        assert tr.best_tau == max(e.val_tau for e in seen)


def test_rank_corr():
    assert np.isnan(rank_corr(np.ones(4), np.arange(4))[0])
    tau, rho = rank_corr(np.arange(5.0), np.arange(5.0))
    assert tau == pytest.approx(1.0) and rho == pytest.approx(1.0)


@pytest.mark.parametrize("n", [2, 3, 7, 50, 250])
@pytest.mark.parametrize("ties", [False, True])
def test_rank_corr_equals_scipy(n, ties):
    """The written-out tau-b and Spearman rho agree with scipy.stats, ties included."""
    from scipy import stats

    rng = np.random.default_rng(n)
    a, b = rng.normal(size=n), rng.normal(size=n)
    if ties:
        a, b = np.round(a), np.round(b, 1)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        pytest.skip("a constant side has no correlation")
    tau, rho = rank_corr(a, b)
    assert tau == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)
    assert rho == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
