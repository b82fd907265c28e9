"""What a campaign runs: its spec checked, the resolved config of each run, the
(method, seed, budget) plan, and one run itself (the inputs' parsing: ``inputs``).

Each run is deterministic from its seed and independent of the others, so any executor
may run them in any order, on any worker, and run one again after a lost worker: the
result is the same.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field

from .. import benchmarks, catalogue, device, objectives, paths
from ..benchmarks.base import Table
from ..config import Config
from ..errors import ConfigError, NotReadyError
from ..search import driver
from ..stored_config import stored
from .inputs import ANYTIME
from .metrics import RUN_METRICS, run_metric

# ---------------------------------------------------------------- tables and configs


def load_table(benchmark: str) -> Table:
    """The table of ``benchmark`` with a one-sentence error for any reason it is absent."""
    try:
        return benchmarks.load(benchmark)
    except ImportError:
        raise NotReadyError(
            f"Benchmark '{benchmark}' is not available in this build yet."
        ) from None


#: per process: a worker loads each table once (per data folder: another TNAO_HOME is
#: another table)
_TABLES: dict[tuple[str, str], Table] = {}


def table(benchmark: str) -> Table:
    """This process's copy of the table (loaded on first use)."""
    key = (benchmark, str(paths.cache_dir(create=False)))
    if key not in _TABLES:
        _TABLES[key] = load_table(benchmark)
    return _TABLES[key]


def task_config(
    base: dict, benchmark: str, dataset: str, method: str, seed: int, budget: int
) -> Config:
    """The resolved, validated config of one run."""
    data = {k: dict(v) for k, v in (base or {}).items()}
    data.setdefault("run", {}).update(
        benchmark=benchmark,
        dataset=dataset,
        method=method,
        seed=seed,
        budget=budget,
        device="cpu",
    )
    t = table(benchmark)
    cfg = Config.from_dict(data).resolve(t.dataset(dataset), t.partial).validate()
    cfg.baselines.check()
    return cfg


def anytime_methods(base: dict, benchmark: str, dataset: str, budgets: Sequence[int]) -> set:
    """Methods whose first B queries do not depend on the total budget.

    TNAO is one when its rounds query a fixed ``top_k`` each and the round cap is not
    reached within the largest budget (its last round would take all that is left).
    """
    out = set(ANYTIME)
    top = max(budgets)
    cfg = task_config(base, benchmark, dataset, "tnao", 0, top)
    c = cfg.search
    if c.top_k > 0 and cfg.sample.n_labelled + c.top_k * (c.rounds - 1) >= top:
        out.add("tnao")
    return out


def plan(
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
    anytime: Collection[str] = ANYTIME,
) -> list:
    """(method, seed, budget) runs: anytime methods once at the largest budget."""
    top = max(budgets)
    out = []
    for m in methods:
        for s in seeds:
            for b in [top] if m in anytime else budgets:
                out.append((m, s, b))
    return out


# ---------------------------------------------------------------- a campaign's spec


@dataclass
class Spec:
    """What a campaign is: stored with it, so a resume runs exactly the same plan."""

    benchmark: str
    dataset: str
    methods: list[str]
    seeds: list[int]
    budgets: list[int]
    config: dict = field(default_factory=dict)
    anytime: list[str] = field(default_factory=list)  # filled by check()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Spec:
        """A stored plan (its config read with the defaults it ran under)."""
        spec = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        spec.config = stored(spec.config or {}, spec.benchmark)
        return spec

    def check(self) -> Spec:
        """Every input checked before any run starts (methods import, configs resolve)."""
        if not self.methods or not self.seeds or not self.budgets:
            raise ConfigError("An experiment needs at least one method, one seed and one budget.")
        # the defaults of later-added fields, written into the plan so that a resume reads
        # them back (``stored`` gives a plan saved before them the values it ran with)
        d, base = Config(), dict(self.config)
        base["search"] = {
            "picks": d.search.picks,
            "partial_picks": d.search.partial_picks,
            "local_steps": d.search.local_steps,
            "local_k": d.search.local_k,
            **base.get("search", {}),
        }
        if (base.get("goal") or {}).get("objectives"):
            base["goal"] = {"front_picks": d.goal.front_picks, **base["goal"]}
        self.config = base
        table(self.benchmark).dataset(self.dataset)
        for m in self.methods:
            catalogue.load(m)
            for b in self.budgets:
                cfg = task_config(self.config, self.benchmark, self.dataset, m, self.seeds[0], b)
        objectives.goal_of(table(self.benchmark), cfg)  # a bad goal: one sentence, now
        any_m = (
            anytime_methods(self.config, self.benchmark, self.dataset, self.budgets)
            if "tnao" in self.methods
            else set(ANYTIME)
        )
        self.anytime = sorted(any_m)
        return self

    def tasks(self) -> list[tuple]:
        """Every run of the plan, as the picklable task ``run_one`` takes."""
        return [
            (self.benchmark, self.dataset, m, s, b, self.config)
            for m, s, b in plan(self.methods, self.seeds, self.budgets, self.anytime)
        ]


def task_key(task_or_result) -> tuple[str, int, int]:
    """(method, seed, budget) of a task tuple or of a run's result."""
    if isinstance(task_or_result, dict):
        r = task_or_result
        return (r["method"], int(r["seed"]), int(r["budget"]))
    return (task_or_result[2], int(task_or_result[3]), int(task_or_result[4]))


# ---------------------------------------------------------------- one run


def init_worker() -> None:
    """One torch thread per worker: the pool already uses every core. The variable is
    read when torch is first imported, so a worker that never needs torch skips it."""
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def run_one(task: tuple) -> dict:
    """One run (picklable for any executor): returns its query trajectory."""
    benchmark, dataset, method, seed, budget, base = task
    cfg = task_config(base, benchmark, dataset, method, seed, budget)
    tab = table(benchmark)
    device.setup(seed, cfg.run.threads, "cpu")  # as `tnao run` does: same seed, same run
    t0 = time.perf_counter()
    _, oracle = driver.search(cfg, tab)
    return {
        "method": method,
        "seed": seed,
        "budget": budget,
        "rows": [int(r) for r in oracle.queried],
        "signal": [float(v) for v in oracle.queried.values()],
        "seconds": time.perf_counter() - t0,
        "metrics": run_metrics(cfg, tab, oracle),
    }


def run_metrics(cfg: Config, tab: Table, oracle) -> dict[str, list[float]]:
    """The registered metrics that apply to this run, one value after each query."""
    out = {}
    for name in RUN_METRICS:
        values = run_metric(name).fn(cfg, tab, oracle)
        if values is not None:
            out[name] = [float(v) for v in values]
    return out
