"""Run configuration: one dataclass per stage, defaults in one place.

A run's config is saved resolved (every field) with the run, so it can be reproduced
and resumed. ``validate()`` turns any bad value into one ``ConfigError`` sentence.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

from . import sizes
from .catalogue import CATALOGUE, METHODS, info
from .errors import ConfigError

if TYPE_CHECKING:
    from .benchmarks.base import DatasetSpec

DEVICES = ("auto", "cpu", "cuda")
SECTIONS = ("run", "sample", "model", "train", "search", "baselines", "goal")
EXAMPLE = '{"train": {"epochs": 12}}'
INT64_MAX = 2**63 - 1
# The largest token sequence and vocabulary of any space here (NB101: 26 tokens of 6), with
# room to spare: the memory estimates of Config.validate need no benchmark loaded.
MAX_SEQ_LEN = 64
MAX_VOCAB = 16


@dataclass
class RunConfig:
    benchmark: str = "analog"
    dataset: str = "cifar10"
    method: str = "tnao"
    budget: int = 100  # unique benchmark queries, training samples included
    seed: int = 0
    device: str = "auto"
    name: str = ""
    threads: int = 0  # torch CPU threads; 0 = 1 (fastest for this small model)
    # at most one checkpoint per this many seconds (the run's first step is always
    # saved); 0 = every epoch, every generation and every batch of queries
    checkpoint_every: float = 2.0


# Sample size when n_labelled is 0 (auto), measured on NB201 seeds 0-29 (docs/results.md): 20 on
# cifar10's 200-epoch signal; 30 on the 12-epoch proxy signals of cifar100 / ImageNet16-120.
AUTO_LABELLED, AUTO_LABELLED_PROXY = 20, 30
# local_k when -1 (auto): 5 of a round's 10 picks; 2 for TNAO on a partial table, where few
# of a cell's one-edit neighbours are answerable (NB101 subset: docs/results.md)
AUTO_LOCAL_K, AUTO_LOCAL_K_PARTIAL = 5, 2


@dataclass
class SampleConfig:
    # queried for training (counts against the budget); 0 = auto (see AUTO_LABELLED)
    n_labelled: int = 0
    # reconstruction-only samples (free: no query); 0 = the whole space when it is
    # enumerable and small (NB201: all 15,625 cells), else 20,000 samples
    n_unlabelled: int = 0
    # the first sample: "balanced" (each op on each edge about equally often: a sample
    # that misses one by chance misleads the first model) or "random" (uniform; the paper)
    design: str = "balanced"


@dataclass
class ModelConfig:
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    d_latent: int = 16
    dropout: float = 0.0
    n_predictors: int = 4  # ensemble of predictor heads on z (their mean ranks)
    graph_attention: bool = True  # attention bias from the cell's DAG, where the space has one


@dataclass
class TrainConfig:
    epochs: int = 12  # first round: passes over the reconstruction pool
    finetune_epochs: int = 3  # each later round (multi-round): fine-tune on all labels
    finetune_batches: int = 8  # pool batches per fine-tuning epoch (0 = the whole pool)
    batch_size: int = 512
    label_batch: int = 256  # labelled archs per batch for the ranking loss
    lr: float = 2e-3
    weight_decay: float = 1e-4
    rank_weight: float = 1.0
    rank_loss: str = "bpr"  # bpr (pairwise logistic) or hinge
    margin: float = 0.1  # hinge margin
    # weight each ranking pair by the NDCG discount 1/log2(2 + r) of its better member's
    # rank r among the labels, so the order at the top counts most (docs/method.md)
    top_weight: bool = True
    z_noise: float = 0.0  # std of noise on z for the decoder (denoising), 0 = off
    val_fraction: float = 0.0  # labelled archs held out for tau / early stopping
    patience: int = 5  # early stopping on validation tau (only with a validation split)
    # train afresh (new weights) after this many rounds in a row found nothing better;
    # 0 = always fine-tune the first model (measured on NB201 cifar10: 1 beats 2 beats 0)
    restart_after: int = 1
    # stage 1 apart from the search (docs/method.md): "cached" = the Transformer body
    # learns reconstruction once per space and model (label-free, kept in the cache
    # folder) and each round trains only the head (latent projection, decoder, predictor
    # heads) on the labels; "joint" = the whole model trained in every run
    stage1: str = "cached"
    stage1_variants: int = 4  # differently seeded pretrained bodies; a restart takes the next
    head_epochs: int = 8  # epochs of a new head on a pretrained body ("cached")
    head_batches: int = 25  # batches per head epoch ("cached")
    head_batch_size: int = 128  # pool cells per head batch ("cached"; the labels come on top)


@dataclass
class SearchConfig:
    particles: int = 64  # CSO swarm size (even)
    generations: int = 30
    phi: float = 0.1
    # distinct decoded archs queried per round; 0 = spread the budget over the rounds.
    # A fixed batch makes the run anytime (measured: 10 beat 5 and 8 budget-split rounds)
    top_k: int = 10
    rounds: int = 100  # cap on rounds (the budget ends a run first); 1 = the paper's single pass
    init: str = "pool"  # swarm start: best-predicted latents of the pool, or "labelled"
    init_noise: float = 0.1  # noise on the start latents, relative to the latent box size
    remap: bool = True  # move a particle onto the latent of the architecture it decodes to
    restart_patience: int = 10  # generations without a new best before the losers restart
    # picks per round from the one-edit neighbours of the best queried architectures,
    # ranked by the predictor (a trust region around the incumbents; 0 = off)
    local_k: int = -1  # -1 = auto (AUTO_LOCAL_K)
    local_parents: int = 3  # how many of the best queried architectures lend neighbours
    # "sequential": query the local picks one at a time, each among the neighbours of the
    # best cells queried so far (a local move follows an improvement within the round);
    # "batch": choose all of them before the round's queries
    local_steps: str = "batch"
    # once this many rounds in a row found nothing better, each round also queries
    # explore_k architectures far from the queried ones (0 = never): "predicted" = the
    # best-predicted cells >= 3 ops from each of the 10 best queried; "maximin" = random
    # cells spread as far as possible from every queried one (docs/method.md)
    explore_after: int = 2
    explore_k: int = 4
    explore: str = "predicted"
    # once this many rounds in a row found nothing better, the local picks climb from a
    # random cell instead of the best queried ones, again at each local optimum, until a
    # round finds a better cell (0 = never; batch local steps only; docs/method.md)
    escape_after: int = 0
    # the swarm's picks of one round differ pairwise in at least this many tokens, so one
    # predicted hot spot cannot take the whole batch (1 = no spacing; docs/method.md)
    pick_spacing: int = 2
    # spaced picks from "swarm" (the latent swarm's visits, the paper's CSO), "pool" (every
    # pool cell by the model's score), "turns" (the pool, each head in turn adding its best);
    # "auto": pool if constrained, partial_picks for TNAO on a partial table, else swarm
    picks: str = "auto"
    partial_picks: str = "turns"


@dataclass
class BaselinesConfig:
    population: int = 20  # regularized evolution
    tournament: int = 5
    predictor_init: int = 20  # predictor-guided: random queries before the first fit
    predictor_batch: int = 10  # queries per refit
    predictor_hidden: int = 64  # width of the ranker's two hidden layers
    predictor_epochs: int = 200  # full-batch Adam steps per fit
    predictor_ensemble: int = 5  # rankers per fit; they take turns filling a batch
    predictor_candidates: int = 20000  # rows scored per fit when a table is too big to score all
    nao_steps: int = 20  # gradient-ascent steps per candidate
    nao_step_size: float = 0.5
    ls_init: int = 10  # local search: random queries before the first walk
    ls_draws: int = 64  # mutate draws per neighbourhood where tokens are no grid (NB101)
    bananas_init: int = 10  # BANANAS: random queries before the first fit
    bananas_batch: int = 10  # queries per fit
    bananas_ensemble: int = 5  # MLPs per fit (different initial weights)
    bananas_parents: int = 10  # the best queried cells that are mutated into candidates
    bananas_candidates: int = 100  # mutants scored per fit
    bananas_hidden: int = 32  # width of the MLPs' two hidden layers
    bananas_epochs: int = 200  # full-batch Adam steps per fit (about 0.2 s a fit on a CPU core)
    tpe_startup: int = 10  # TPE: random trials before the model (Optuna's n_startup_trials)
    nsga2_population: int = 20  # NSGA-II: trials per generation (Optuna's population_size)

    def check(self) -> BaselinesConfig:
        """Raise one ``ConfigError`` sentence for the first bad value."""
        for name in (f.name for f in fields(self) if f.type in ("int", int)):  # every count
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"baselines.{name} must be a positive integer, got {value!r}.")
        if self.nsga2_population < 2:
            raise ConfigError(
                "baselines.nsga2_population must be at least 2 (NSGA-II crosses two "
                f"parents), got {self.nsga2_population}."
            )
        if self.predictor_init < 2:
            raise ConfigError(
                "baselines.predictor_init must be at least 2 (a ranker needs "
                f"a pair to learn from), got {self.predictor_init}."
            )
        if self.bananas_init < 2:
            raise ConfigError(
                "baselines.bananas_init must be at least 2 (a predictor needs more than "
                f"one label to learn from), got {self.bananas_init}."
            )
        return self


@dataclass
class GoalConfig:
    """What a run optimises beyond its dataset's search signal (``tnao_app.objectives``):
    both empty = the single signal, every cell allowed."""

    # comma-separated objectives, "-" to minimise: "valid,-flops"; names are metric
    # columns of the benchmark or the aliases valid (the search signal), params, flops
    objectives: str = ""
    # comma-separated METRIC<=VALUE limits on cost columns (known without a query):
    # "params<=0.5,flops<=100"; a cell over a limit is never queried
    constraints: str = ""
    # how a single-objective method (TNAO included) searches several objectives:
    # "chebyshev" = augmented Chebyshev scalarisation with random weights drawn per
    # batch (ParEGO-style), "fixed" = the same with equal weights in every batch
    scalarise: str = "chebyshev"
    # TNAO with the signal against one cost column: "hvi" = train on the signal alone and
    # pick each batch by predicted hypervolume improvement (the cost is known up front:
    # search/tnao/front.py); "scalarise" = as every other method, above. A config saved
    # before this field existed reads as "scalarise" (``stored``): what it ran with
    front_picks: str = "hvi"
    # of each round's front picks, how many come from the one-edit neighbours of the
    # queried front's cells (the rest from the whole pool)
    front_local: int = 8


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    goal: GoalConfig = field(default_factory=GoalConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        """Build from a (possibly partial) dict; unknown keys are an error."""
        cfg = cls()
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"The config must be an object of sections, like {EXAMPLE}, got {_kind(data)}."
            )
        for section, values in data.items():
            if not isinstance(section, str) or section not in SECTIONS:
                raise ConfigError(
                    f"Unknown config section '{section}'; expected one of {', '.join(SECTIONS)}."
                )
            if not isinstance(values, dict):
                raise ConfigError(
                    f"Config section '{section}' must be an object of fields, like "
                    f"{EXAMPLE}, got {_kind(values)}."
                )
            target = getattr(cfg, section)
            names = {f.name: f for f in fields(target)}
            for key, value in values.items():
                if key not in names:
                    raise ConfigError(f"Unknown config field '{section}.{key}'.")
                setattr(target, key, _typed(f"{section}.{key}", getattr(target, key), value))
        return cfg

    def resolve(self, spec: DatasetSpec, partial: bool = False) -> Config:
        """Fill the automatic fields for the dataset ``spec`` (a ``DatasetSpec``) of the
        run on a table that answers all or (``partial``) part of its space, so that the
        config a run saves says what it did."""
        if self.run.method in CATALOGUE:
            for key, value in CATALOGUE[self.run.method].preset:
                section, _, name = key.partition(".")
                setattr(getattr(self, section), name, value)
        if self.sample.n_labelled == 0:
            self.sample.n_labelled = AUTO_LABELLED_PROXY if spec.proxy else AUTO_LABELLED
        self.search.picks, self.search.local_k = self.picks(partial), self.local_k(partial)
        return self

    def local_k(self, partial: bool = False) -> int:
        """``search.local_k`` with -1 (auto) decided (the partial rule: TNAO's own rounds)."""
        if self.search.local_k >= 0:
            return self.search.local_k
        return AUTO_LOCAL_K_PARTIAL if partial and self.run.method == "tnao" else AUTO_LOCAL_K

    def picks(self, partial: bool = False) -> str:
        """``search.picks`` with "auto" decided (TNAO's own rounds only take the partial
        rule: NAO's and the paper's pass are their latent searches)."""
        if self.search.picks != "auto":
            return self.search.picks
        if self.goal.constraints.strip():
            return "pool"
        return self.search.partial_picks if partial and self.run.method == "tnao" else "swarm"

    def validate(self) -> Config:
        """Raise one ``ConfigError`` sentence naming the first bad field and what was
        expected: first every field's type and range (so no check below can fail on a
        wrong type), then the rules of each stage, then the sizes against this machine."""
        r, s, m, t, c = self.run, self.sample, self.model, self.train, self.search
        self._check_types()

        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        def one_of(value: str, label: str, *choices: str) -> None:
            expected = f"{', '.join(choices[:-1])} or {choices[-1]}"
            need(value in choices, f"{label} '{value}' is unknown; expected {expected}.")

        need(
            r.method in METHODS,
            f"method '{r.method}' is unknown; expected one of {', '.join(METHODS)}.",
        )
        need(r.device in DEVICES, f"device '{r.device}' is unknown; expected auto, cpu or cuda.")
        need(
            isinstance(r.budget, int) and r.budget >= 1,
            f"budget must be a positive number of queries, got {r.budget}.",
        )
        need(isinstance(r.seed, int) and r.seed >= 0, f"seed must be >= 0, got {r.seed}.")
        if r.method in METHODS and info(r.method).rounds:
            need(
                s.n_labelled == 0 or s.n_labelled >= 2,
                f"sample size must be at least 2 (or 0 for automatic), got {s.n_labelled}.",
            )
            need(
                r.budget >= s.n_labelled,
                f"budget {r.budget} is below the sample size {s.n_labelled}; the sampled "
                "architectures are queries too, so the budget must be at least that.",
            )
        one_of(s.design, "sample design", "random", "balanced")
        need(s.n_unlabelled >= 0, f"unlabelled samples must be >= 0, got {s.n_unlabelled}.")
        need(m.n_heads >= 1, f"model.n_heads must be >= 1, got {m.n_heads}.")
        need(
            m.d_model >= 8 and m.d_model % m.n_heads == 0,
            f"d_model ({m.d_model}) must be >= 8 and divisible by n_heads ({m.n_heads}).",
        )
        need(m.n_layers >= 1, f"n_layers must be >= 1, got {m.n_layers}.")
        need(m.d_latent >= 1, f"d_latent must be >= 1, got {m.d_latent}.")
        need(0.0 <= m.dropout < 1.0, f"dropout must be in [0, 1), got {m.dropout}.")
        need(t.epochs >= 1, f"epochs must be >= 1, got {t.epochs}.")
        need(t.batch_size >= 1, f"batch size must be >= 1, got {t.batch_size}.")
        need(t.lr > 0, f"learning rate must be > 0, got {t.lr}.")
        need(t.finetune_epochs >= 0, f"finetune_epochs must be >= 0, got {t.finetune_epochs}.")
        need(t.finetune_batches >= 0, f"finetune_batches must be >= 0, got {t.finetune_batches}.")
        need(t.label_batch >= 2, f"label_batch must be >= 2, got {t.label_batch}.")
        need(
            t.rank_loss in ("bpr", "hinge"),
            f"rank_loss '{t.rank_loss}' is unknown; expected bpr or hinge.",
        )
        need(t.z_noise >= 0, f"z_noise must be >= 0, got {t.z_noise}.")
        need(t.restart_after >= 0, f"restart_after must be >= 0, got {t.restart_after}.")
        need(t.patience >= 1, f"patience must be >= 1, got {t.patience}.")
        need(
            t.stage1 in ("cached", "joint"),
            f"train.stage1 '{t.stage1}' is unknown; expected cached or joint.",
        )
        need(
            t.stage1_variants >= 1, f"train.stage1_variants must be >= 1, got {t.stage1_variants}."
        )
        need(t.head_epochs >= 1, f"train.head_epochs must be >= 1, got {t.head_epochs}.")
        need(t.head_batches >= 1, f"train.head_batches must be >= 1, got {t.head_batches}.")
        need(
            t.head_batch_size >= 1, f"train.head_batch_size must be >= 1, got {t.head_batch_size}."
        )
        need(m.n_predictors >= 1, f"n_predictors must be >= 1, got {m.n_predictors}.")
        need(r.threads >= 0, f"threads must be >= 0, got {r.threads}.")
        cores = os.cpu_count() or 1
        need(
            r.threads <= cores,
            f"run.threads must be at most {cores} (the CPU cores of this machine; 0 = 1 "
            f"thread), got {r.threads}.",
        )
        need(
            r.checkpoint_every >= 0,
            f"checkpoint_every must be >= 0 seconds, got {r.checkpoint_every}.",
        )
        need(0.0 <= t.val_fraction < 1.0, f"val_fraction must be in [0, 1), got {t.val_fraction}.")
        need(
            c.particles >= 2 and c.particles % 2 == 0,
            f"particles must be an even number >= 2, got {c.particles}.",
        )
        need(c.generations >= 1, f"generations must be >= 1, got {c.generations}.")
        need(c.top_k >= 0, f"top_k must be >= 0 (0 = automatic), got {c.top_k}.")
        need(c.phi >= 0, f"phi must be >= 0, got {c.phi}.")
        one_of(c.init, "search init", "pool", "labelled")
        need(c.init_noise >= 0, f"init_noise must be >= 0, got {c.init_noise}.")
        need(c.restart_patience >= 1, f"restart_patience must be >= 1, got {c.restart_patience}.")
        need(c.rounds >= 1, f"rounds must be >= 1, got {c.rounds}.")
        need(c.local_k >= -1, f"local_k must be >= 0 (or -1: automatic), got {c.local_k}.")
        need(c.explore_k >= 0, f"explore_k must be >= 0, got {c.explore_k}.")
        need(c.explore_after >= 1, f"explore_after must be >= 1, got {c.explore_after}.")
        need(c.escape_after >= 0, f"escape_after must be >= 0, got {c.escape_after}.")
        one_of(c.explore, "explore", "maximin", "predicted")
        need(c.local_parents >= 1, f"local_parents must be >= 1, got {c.local_parents}.")
        need(c.pick_spacing >= 1, f"pick_spacing must be >= 1 token, got {c.pick_spacing}.")
        one_of(c.picks, "picks", "auto", "swarm", "pool", "turns")
        one_of(c.local_steps, "local_steps", "sequential", "batch")
        one_of(c.partial_picks, "partial_picks", "pool", "turns", "swarm")
        self.baselines.check()
        one_of(self.goal.scalarise, "goal.scalarise", "chebyshev", "fixed")
        one_of(self.goal.front_picks, "goal.front_picks", "hvi", "scalarise")
        need(
            self.goal.front_local >= 0,
            f"goal.front_local must be >= 0, got {self.goal.front_local}.",
        )
        self._check_sizes()
        return self

    def _check_types(self) -> None:
        """Every field has its default's type (a bool is no integer), every number is
        finite and every integer fits in 64 bits (SQLite, torch and numpy take no more)."""
        defaults = Config()
        for section in SECTIONS:
            for f in fields(getattr(self, section)):
                name = f"{section}.{f.name}"
                value = getattr(getattr(self, section), f.name)
                _typed(name, getattr(getattr(defaults, section), f.name), value)
                if isinstance(value, float) and not math.isfinite(value):
                    raise ConfigError(
                        f"Config field '{name}' must be a finite number, got {value}."
                    )
                if isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX:
                    raise ConfigError(
                        f"Config field '{name}' must fit in a 64-bit signed integer "
                        f"(at most {INT64_MAX}), got {_short(value)}."
                    )

    def _check_sizes(self) -> None:
        """The sizes that allocate memory must fit this machine: refuse in one sentence what
        would end in an allocation failure (or the machine swapping) minutes later."""
        limit = sizes.memory_bytes()
        m, b = self.model, self.baselines
        n, k = self.sample.n_unlabelled, self.search.particles
        needs = [
            (
                f"model.d_model {m.d_model} (with model.n_layers {m.n_layers})",
                sizes.model_bytes(m, MAX_SEQ_LEN, MAX_VOCAB),
                "model.d_model or model.n_layers",
            ),
            (f"sample.n_unlabelled {n}", n * MAX_SEQ_LEN * 8 * 2, "sample.n_unlabelled"),
            (
                f"search.particles {k}",
                k * (m.d_latent * 8 * 4 + MAX_SEQ_LEN * MAX_VOCAB * 4),
                "search.particles",
            ),
        ]
        for f in fields(b):  # the MLP baselines: <method>_hidden wide, <method>_ensemble many
            if f.name.endswith("_hidden"):
                width, many = getattr(b, f.name), getattr(b, f.name[:-7] + "_ensemble", 1)
                name = f"baselines.{f.name}"
                needs.append((f"{name} {width}", many * sizes.mlp_bytes(width), name))
        for what, need, smaller in needs:
            if need > limit:
                raise ConfigError(
                    f"{what} needs about {sizes.gb(need)} of memory, more than this machine's "
                    f"{sizes.gb(limit)}; expected a smaller {smaller}."
                )


def _typed(name: str, default: object, value: object) -> object:
    """``value`` checked against the type of the field's default (JSON gives loose types)."""
    kind = type(default)
    ok = (
        isinstance(value, bool)
        if kind is bool
        else isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is float
        else isinstance(value, int) and not isinstance(value, bool)
        if kind is int
        else isinstance(value, kind)
    )
    if ok and kind is float and isinstance(value, int) and abs(value) > 2**1023:
        ok = False  # too large for a float
    if not ok:
        what = {bool: "true or false", float: "a number", int: "an integer", str: "a string"}
        raise ConfigError(
            f"Config field '{name}' must be {what.get(kind, kind.__name__)}, got {_short(value)}."
        )
    return float(value) if kind is float else value  # type: ignore[arg-type]  # checked above


def _kind(value: object) -> str:
    """What a JSON value is, in words, for an error sentence."""
    if value is None:
        return "null"
    names = {bool: "true or false", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object"})
    return f"{names.get(type(value), type(value).__name__)} ({_short(value)})"


def _short(value: object, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."
