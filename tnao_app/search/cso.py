"""Competitive swarm optimisation (Cheng & Jin 2015) in TNAO's latent space, and the
remapping scoring scheme that turns a latent point into a scored architecture.

CSO, one generation: shuffle the m particles into m/2 random pairs; in each pair the
particle with the higher score wins and passes unchanged; the loser learns from it:

    v_l = R1 * v_l + R2 * (x_w - x_l) + phi * R3 * (mean(x) - x_l);   x_l = x_l + v_l

with fresh uniform R1..R3 per loser and dimension, x clamped to the box of the training
latents. Only losers are re-scored, in one batch. The best point ever seen is kept outside
the swarm. After ``restart_patience`` generations without a new best, the losers of the
next generation restart from fresh points (the caller supplies them).

Remapping scoring: z -> decoder logits -> the space's decode (arg-max + repair to a valid
architecture) -> re-encode -> predictor. Scores are cached per canonical id, so two latents
that decode to one architecture share one score, and the scorer records every distinct
architecture the swarm visited: the candidates that the evaluate stage may query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ..benchmarks.base import Arch, Space, Table
from ..model import TNAOModel
from ..train import autocast


class Answers(Protocol):
    """Says which table rows a query can answer (a ``SearchContext`` or an ``Oracle``)."""

    def answerable(self, row: int | None) -> bool: ...


@dataclass
class Visit:
    arch: Arch
    row: int | None  # table row, None when the table lacks it
    answerable: bool  # the oracle can answer a query for it
    score: float
    z: np.ndarray  # latent of the re-encoded architecture


class RemapScorer:
    """Scores latents through the architectures they decode to (cached per canonical id)."""

    def __init__(
        self, model: TNAOModel, space: Space, table: Table, oracle: Answers, device: str = "cpu"
    ):
        self.model, self.space, self.table, self.oracle = model, space, table, oracle
        self.device = device
        self.visits: dict[str, Visit] = {}  # canonical id -> visit, in order of discovery
        #: (rows, latents, scores) of answerable cells: a decoded cell the table cannot
        #: answer is scored as the nearest of them in latent space (``snap_to``)
        self.snap: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._alias: dict[str, str] = {}  # unanswerable decoded id -> snapped cell's id
        self.snapped = 0  # decoded cells the table cannot answer, scored as a nearby one

    @torch.no_grad()
    def encode_archs(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Latents and predicted scores of architectures (one batch)."""
        if not archs:
            return np.zeros((0, self.model.shape.d_latent), np.float32), np.zeros(0)
        toks = np.stack([self.space.to_tokens(a) for a in archs])
        t = torch.as_tensor(toks, dtype=torch.long, device=self.device)
        self._eval()
        with autocast(self.device):
            z = self.model.encode(t)
            s = self.model.predict(z)
        return z.float().cpu().numpy(), s.float().cpu().numpy().astype(np.float64)

    def _eval(self) -> None:
        if self.model.training:  # eval() walks every submodule: twice per generation
            self.model.eval()

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> list[Arch]:
        self._eval()
        t = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        with autocast(self.device):
            logits = self.model.decode(t).float().cpu().numpy()
        return [self.space.decode(lg) for lg in logits]

    def snap_to(self, rows: np.ndarray, z: np.ndarray, scores: np.ndarray) -> None:
        """Score unanswerable decodes as their nearest answerable cell (a partial table:
        most of a space's cells have no result, and a visit the table cannot answer
        can never be queried)."""
        self.snap = (np.asarray(rows), np.asarray(z, np.float64), np.asarray(scores))
        self._snap_sq = (self.snap[1] ** 2).sum(axis=1)

    def add(self, archs: list[Arch]) -> list[Visit]:
        """Visits of ``archs``, scoring the new ones in one batch."""
        ids = [self._alias.get(i, i) for i in (self.space.canonical_id(a) for a in archs)]
        new: dict[str, Arch] = {}
        for i, a in zip(ids, archs, strict=False):
            if i not in self.visits and i not in new:
                new[i] = a
        if new:
            z, s = self.encode_archs(list(new.values()))
            rows = [self.table.index_of(a) for a in new.values()]
            off = [
                k
                for k, r in enumerate(rows)
                if self.snap is not None and not self.oracle.answerable(r)
            ]
            near = dict(zip(off, self._nearest(z[off]), strict=True)) if off else {}
            self.snapped += len(off)
            for k, (i, a) in enumerate(new.items()):
                if k in near:
                    self._snap(i, near[k])
                else:
                    r = rows[k]
                    self.visits[i] = Visit(a, r, self.oracle.answerable(r), float(s[k]), z[k])
        return [self.visits[self._alias.get(i, i)] for i in ids]

    def _nearest(self, z: np.ndarray) -> list[int]:
        """Index (into ``snap``) of the answerable cell nearest each latent of ``z``: one
        product for the batch (|a-b|^2 = |b|^2 - 2ab + |a|^2, the last the same for all)."""
        assert self.snap is not None
        _, zs, _ = self.snap
        d = self._snap_sq[None, :] - 2.0 * (np.asarray(z, np.float64) @ zs.T)
        return [int(j) for j in np.argmin(d, axis=1)]

    def _snap(self, decoded_id: str, j: int) -> None:
        assert self.snap is not None
        rows, zs, ss = self.snap
        arch = self.table.arch(int(rows[j]))
        sid = self.space.canonical_id(arch)
        self._alias[decoded_id] = sid
        if sid not in self.visits:
            self.visits[sid] = Visit(
                arch, int(rows[j]), True, float(ss[j]), zs[j].astype(np.float32)
            )

    def __call__(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores of latent points ``z`` (n, d) and the latents they remap to."""
        visits = self.add(self.decode(z))
        return np.array([v.score for v in visits]), np.stack([v.z for v in visits])

    def ranked(self) -> list[Visit]:
        """Visited architectures, best predicted first (ties: first visited)."""
        return sorted(self.visits.values(), key=lambda v: -v.score)

    def state_dict(self) -> dict:
        return {
            "ids": list(self.visits),
            "archs": [v.arch for v in self.visits.values()],
            "rows": [v.row for v in self.visits.values()],
            "answerable": [v.answerable for v in self.visits.values()],
            "scores": [v.score for v in self.visits.values()],
            "z": np.stack([v.z for v in self.visits.values()]) if self.visits else None,
            "alias": dict(self._alias),
            "snapped": self.snapped,
        }

    def load_state_dict(self, st: dict) -> None:
        self._alias, self.snapped = dict(st.get("alias", {})), int(st.get("snapped", 0))
        self.visits = {
            i: Visit(a, r, ok, s, st["z"][k])
            for k, (i, a, r, ok, s) in enumerate(
                zip(st["ids"], st["archs"], st["rows"], st["answerable"], st["scores"], strict=True)
            )
        }


class CSO:
    """A competitive swarm maximising ``score`` over the box [lo, hi]."""

    def __init__(
        self,
        score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        lo: np.ndarray,
        hi: np.ndarray,
        rng: np.random.Generator,
        *,
        phi: float = 0.1,
        remap: bool = True,
        restart_patience: int = 10,
        restart_points: Callable[[int], np.ndarray] | None = None,
    ):
        self.score, self.lo, self.hi, self.rng = score, lo, hi, rng
        self.phi, self.remap = phi, remap
        self.restart_patience = restart_patience
        self.restart_points = restart_points
        self.gen = 0
        self.stall = 0
        self.restarts = 0

    def start(self, x0: np.ndarray) -> None:
        self.x = np.clip(np.asarray(x0, dtype=np.float64), self.lo, self.hi)
        self.v = np.zeros_like(self.x)
        self.f, z = self.score(self.x)
        if self.remap:
            self.x = np.clip(z.astype(np.float64), self.lo, self.hi)
        b = int(np.argmax(self.f))
        self.best_x, self.best_f = self.x[b].copy(), float(self.f[b])

    def step(self) -> None:
        m, d = self.x.shape
        pairs = self.rng.permutation(m).reshape(-1, 2)
        a, b = pairs[:, 0], pairs[:, 1]
        a_wins = self.f[a] >= self.f[b]
        w = np.where(a_wins, a, b)
        lo_ = np.where(a_wins, b, a)
        r1, r2, r3 = self.rng.random((3, len(lo_), d))
        mean = self.x.mean(axis=0)
        if self.stall >= self.restart_patience and self.restart_points is not None:
            # The swarm has converged on one answer: losers start afresh elsewhere.
            self.x[lo_] = np.clip(self.restart_points(len(lo_)), self.lo, self.hi)
            self.v[lo_] = 0.0
            self.stall = 0
            self.restarts += 1
        else:
            self.v[lo_] = (
                r1 * self.v[lo_]
                + r2 * (self.x[w] - self.x[lo_])
                + self.phi * r3 * (mean - self.x[lo_])
            )
            self.x[lo_] = np.clip(self.x[lo_] + self.v[lo_], self.lo, self.hi)
        f, z = self.score(self.x[lo_])
        self.f[lo_] = f
        if self.remap:
            self.x[lo_] = np.clip(z.astype(np.float64), self.lo, self.hi)
        self.gen += 1
        k = int(np.argmax(self.f))
        if self.f[k] > self.best_f:
            self.best_x, self.best_f = self.x[k].copy(), float(self.f[k])
            self.stall = 0
        else:
            self.stall += 1

    def state_dict(self) -> dict:
        return {
            "x": self.x.copy(),
            "v": self.v.copy(),
            "f": self.f.copy(),
            "best_x": self.best_x.copy(),
            "best_f": self.best_f,
            "gen": self.gen,
            "stall": self.stall,
            "restarts": self.restarts,
        }

    def load_state_dict(self, st: dict) -> None:
        self.x, self.v, self.f = st["x"].copy(), st["v"].copy(), st["f"].copy()
        self.best_x, self.best_f = st["best_x"].copy(), st["best_f"]
        self.gen, self.stall, self.restarts = st["gen"], st["stall"], st["restarts"]
