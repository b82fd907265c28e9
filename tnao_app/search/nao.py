"""NAO-style baseline: gradient ascent on the predictor in TNAO's latent space.

Same sample, model, training and rounds as TNAO; only the search differs. As in NAO
(Luo et al. 2018), the starting points are the latents of the best queried architectures;
each step moves every point along the predictor's gradient, ``z += eta * dS/dz``
(normalised per point, so ``eta`` is a distance in latent units), and every architecture
the points decode to on the way is a candidate, scored like TNAO's (re-encoded, predicted).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..events import Generation, StageFinished, StageStarted
from .tnao import TNAOSearch


class NAOSearch(TNAOSearch):
    name = "nao"

    def _search(self, st: dict) -> None:
        ctx, rnd = self.ctx, st["round"]
        b, c = self.cfg.baselines, self.cfg.search
        t0 = time.perf_counter()
        ctx.emit(StageStarted("search", rnd))
        scorer, z_pool, _, (lo, hi) = self._setup_search(st)
        if st["swarm"] is not None:
            scorer.load_state_dict(st["scorer"])
            z, step = st["swarm"]["z"], st["swarm"]["step"]
        else:
            rows, x, y = self._labelled()
            z_lab, _ = scorer.encode_archs([self.space.from_tokens(t.tolist()) for t in x])
            order = np.argsort(-y, kind="stable")[: c.particles]
            z = z_lab[order].astype(np.float64)
            scorer.add([self.space.from_tokens(x[i].tolist()) for i in order])
            step = 0
        span = float(np.mean(hi - lo))
        model = self.trainer.model
        model.eval()
        while step < b.nao_steps:
            ctx.check_stop()
            zt = torch.tensor(z, dtype=torch.float32, device=ctx.device, requires_grad=True)
            model.predict(zt).sum().backward()
            g = zt.grad.detach().cpu().numpy().astype(np.float64)
            g /= np.linalg.norm(g, axis=1, keepdims=True) + 1e-12
            z = np.clip(z + b.nao_step_size * span / 10 * g, lo, hi)
            scorer.add(scorer.decode(z))
            step += 1
            best = max(v.score for v in scorer.visits.values())
            ctx.emit(Generation(step, b.nao_steps, best, float("nan"), len(scorer.visits), rnd))
            st["swarm"] = {"z": z.copy(), "step": step}
            st["scorer"] = scorer.state_dict()
            self._save("search", rnd * b.nao_steps + step, st)
        model.zero_grad(set_to_none=True)
        st["scorer"] = scorer.state_dict()
        st["phase"] = "evaluate"
        ctx.emit(
            StageFinished("search", time.perf_counter() - t0, {"distinct": len(scorer.visits)}, rnd)
        )
