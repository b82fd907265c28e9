"""Run configuration: one dataclass per stage, defaults in one place.

A run's config is saved resolved (every field) with the run, so it can be reproduced
and resumed. ``validate()`` turns any bad value into one ``ConfigError`` sentence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .errors import ConfigError

METHODS = ("tnao", "random", "evolution", "nao", "predictor")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RunConfig:
    benchmark: str = "analog"
    dataset: str = "cifar10"
    method: str = "tnao"
    budget: int = 100  # unique benchmark queries, training samples included
    seed: int = 0
    device: str = "auto"
    name: str = ""


@dataclass
class SampleConfig:
    n_labelled: int = 50  # queried for training (counts against the budget)
    n_unlabelled: int = 0  # reconstruction-only samples (free); 0 = the whole space if small


@dataclass
class ModelConfig:
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_latent: int = 16
    dropout: float = 0.0


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    rank_weight: float = 1.0
    val_fraction: float = 0.2
    patience: int = 10  # early stopping on validation tau


@dataclass
class SearchConfig:
    particles: int = 64  # CSO swarm size (even)
    generations: int = 40
    phi: float = 0.1
    top_k: int = 25  # distinct decoded archs queried per round
    rounds: int = 2  # 1 = the paper's single pass


@dataclass
class BaselinesConfig:
    population: int = 20  # regularized evolution
    tournament: int = 5
    predictor_init: int = 20  # predictor-guided: random queries before the first fit
    predictor_batch: int = 10  # queries per refit
    nao_steps: int = 20  # gradient-ascent steps per candidate
    nao_step_size: float = 0.5


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        """Build from a (possibly partial) dict; unknown keys are an error."""
        cfg = cls()
        for section, values in (data or {}).items():
            if not hasattr(cfg, section):
                raise ConfigError(f"Unknown config section '{section}'.")
            target = getattr(cfg, section)
            names = {f.name: f for f in fields(target)}
            for key, value in (values or {}).items():
                if key not in names:
                    raise ConfigError(f"Unknown config field '{section}.{key}'.")
                setattr(target, key, value)
        return cfg

    def validate(self) -> Config:
        r, s, m, t, c = self.run, self.sample, self.model, self.train, self.search

        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        need(r.method in METHODS, f"method '{r.method}' is unknown; expected one of "
             f"{', '.join(METHODS)}.")
        need(r.device in DEVICES, f"device '{r.device}' is unknown; expected auto, cpu or cuda.")
        need(isinstance(r.budget, int) and r.budget >= 1,
             f"budget must be a positive number of queries, got {r.budget}.")
        need(isinstance(r.seed, int) and r.seed >= 0, f"seed must be >= 0, got {r.seed}.")
        if r.method in ("tnao", "nao"):
            need(s.n_labelled >= 2, f"sample size must be at least 2, got {s.n_labelled}.")
            need(r.budget >= s.n_labelled,
                 f"budget {r.budget} is below the sample size {s.n_labelled}; the sampled "
                 "architectures are queries too, so the budget must be at least that.")
        need(s.n_unlabelled >= 0, f"unlabelled samples must be >= 0, got {s.n_unlabelled}.")
        need(m.d_model >= 8 and m.d_model % m.n_heads == 0,
             f"d_model ({m.d_model}) must be >= 8 and divisible by n_heads ({m.n_heads}).")
        need(m.n_layers >= 1, f"n_layers must be >= 1, got {m.n_layers}.")
        need(m.d_latent >= 1, f"d_latent must be >= 1, got {m.d_latent}.")
        need(0.0 <= m.dropout < 1.0, f"dropout must be in [0, 1), got {m.dropout}.")
        need(t.epochs >= 1, f"epochs must be >= 1, got {t.epochs}.")
        need(t.batch_size >= 1, f"batch size must be >= 1, got {t.batch_size}.")
        need(t.lr > 0, f"learning rate must be > 0, got {t.lr}.")
        need(0.0 <= t.val_fraction < 1.0, f"val_fraction must be in [0, 1), got "
             f"{t.val_fraction}.")
        need(c.particles >= 2 and c.particles % 2 == 0,
             f"particles must be an even number >= 2, got {c.particles}.")
        need(c.generations >= 1, f"generations must be >= 1, got {c.generations}.")
        need(c.top_k >= 1, f"top_k must be >= 1, got {c.top_k}.")
        need(c.rounds >= 1, f"rounds must be >= 1, got {c.rounds}.")
        return self
