"""The benchmark interface: a *space* of architectures and a *table* of their metrics.

A space knows the cell rules: sample, validate, canonical id, tokens for the model, the
benchmark's native string, mutation. A table holds every architecture a benchmark has
results for, with metric columns named as in DESIGN.md ("Metric names"). An ``Oracle`` is
a table seen by one run: it answers queries and counts the unique ones (the budget).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from ..errors import ConfigError, UnknownArchError

Arch = Hashable  # a space-specific immutable value (NB201: a 6-tuple of op codes)
# The arch type of one space; code that works with any space uses plain ``Space`` and Arch.
A = TypeVar("A", bound=Hashable)

#: Two metric values this close are one value. Accuracies are shares of at least a few
#: thousand images (0.003 points apart at the least, after averaging three runs), while a
#: stored value can carry float rounding (NB201 cifar100's two best cells by 12-epoch
#: validation: 61.32 and 61.31999993, the same count of images).
TIE = 1e-4


def best_rows(values: np.ndarray, mask: np.ndarray) -> tuple[list[int], float]:
    """The rows of ``mask`` whose value ties the best of them (within ``TIE``), the best
    first, and that best: a search that finds any of them found the optimum."""
    values = np.asarray(values, dtype=np.float64)
    best = float(np.nanmax(np.where(mask, values, np.nan)))
    rows = np.flatnonzero(mask & (values >= best - TIE))
    return rows[np.argsort(-values[rows], kind="stable")].tolist(), best


class Space(ABC, Generic[A]):
    """A search space. Methods take and return ``Arch`` values of this space."""

    name: str
    #: length of the token sequence the model reads
    seq_len: int
    #: number of distinct token values (0 .. vocab_size-1)
    vocab_size: int
    #: how many distinct cells the space has, where known (a table with fewer rows
    #: answers only part of it: ``Table.partial``)
    cells: int | None = None

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> A:
        """One architecture drawn uniformly from the space."""

    @abstractmethod
    def is_valid(self, arch: A) -> bool:
        """Whether ``arch`` obeys the cell rules."""

    @abstractmethod
    def canonical_id(self, arch: A) -> str:
        """A string equal for all architectures the benchmark treats as one."""

    @abstractmethod
    def to_tokens(self, arch: A) -> np.ndarray:
        """Integer tokens (shape ``(seq_len,)``) the model reads."""

    @abstractmethod
    def from_tokens(self, tokens: Sequence[int]) -> A:
        """The architecture of ``tokens``, repaired to a nearby valid one when needed."""

    def decode(self, logits: np.ndarray) -> A:
        """The architecture a decoder's ``(seq_len, vocab_size)`` logits point to.

        The default takes the arg-max per position and repairs; spaces with position-
        specific vocabularies override this to mask tokens that cannot stand there.
        """
        return self.from_tokens(np.asarray(logits).argmax(axis=-1).tolist())

    @abstractmethod
    def to_native(self, arch: A) -> str:
        """The benchmark's own text form (NB201 arch string; NB101 JSON of matrix + ops)."""

    @abstractmethod
    def from_native(self, text: str) -> A:
        """Parse the native text form; raise ``UnknownArchError`` with a clear sentence."""

    @abstractmethod
    def mutate(self, arch: A, rng: np.random.Generator) -> A:
        """A valid neighbour of ``arch`` that differs from it."""

    def token_relations(self) -> np.ndarray | None:
        """Optional ``(seq_len, seq_len)`` bool matrix of token positions that touch in
        the cell's DAG (for graph-aware attention); ``None`` when there is no fixed one."""
        return None


@dataclass(frozen=True)
class DatasetSpec:
    """Which metric a search optimises (signal) and which one is reported."""

    name: str
    signal: str
    report: str
    note: str = ""
    # the signal is a short-training proxy of the reported metric (NATS-Bench's 12-epoch
    # validation), not the same training's validation accuracy
    proxy: bool = False
    # a campaign's table also counts the seeds that found one of these best cells by
    # signal (``campaign.summary.top_cells``): "K" cells or "P%" of the answerable ones
    top: str | None = None


@dataclass
class Table:
    """Every architecture of a benchmark with results, and their metric columns.

    ``tokens[i]`` encodes row ``i`` (all -1 where a table knows a row only by its id,
    e.g. an NB101 CSV with module hashes only); ``metrics[name][i]`` is NaN where unknown.
    ``ids``, when given, are the canonical ids of the rows (saves recomputing them).
    """

    benchmark: str
    space: Space
    tokens: np.ndarray
    metrics: dict[str, np.ndarray]
    datasets: dict[str, DatasetSpec]
    source: dict = field(default_factory=dict)
    ids: np.ndarray | None = None
    _index: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def partial(self) -> bool:
        """The table answers only part of its space (the NB101 subset: 30,001 of
        423,624 cells), so a cell a search decodes is mostly one it cannot answer."""
        return self.space.cells is not None and len(self) < self.space.cells

    def arch(self, i: int) -> Arch:
        return self.space.from_tokens(self.tokens[i].tolist())

    def id_of(self, i: int) -> str:
        """The stored canonical id of row ``i`` (ids may be stored as bytes)."""
        if self.ids is None:
            raise ValueError(f"the {self.benchmark} table stores no ids")
        k = self.ids[i]
        return k.decode() if isinstance(k, bytes) else str(k)

    def native(self, i: int) -> str:
        if self.ids is not None and (self.tokens[i] < 0).all():
            return self.id_of(i)  # known only by its id (an NB101 module hash)
        return self.space.to_native(self.arch(i))

    def index_of(self, arch: Arch) -> int | None:
        """Row of ``arch`` (by canonical id), or ``None`` when the table lacks it."""
        if self._index is None:
            if self.ids is not None:
                self._index = {
                    (k.decode() if isinstance(k, bytes) else str(k)): i
                    for i, k in enumerate(self.ids.tolist())
                }
            else:
                cell, ident = self.space.from_tokens, self.space.canonical_id
                self._index = {ident(cell(t)): i for i, t in enumerate(self.tokens.tolist())}
        row = self._index.get(self.space.canonical_id(arch))
        if row is not None and self.tokens[row][0] < 0:
            # A row known only by its id: remember the cell (the same one up to
            # isomorphism) so the model can read it from now on.
            self.tokens[row] = self.space.to_tokens(arch)
        return row

    def dataset(self, name: str) -> DatasetSpec:
        if name not in self.datasets:
            have = ", ".join(sorted(self.datasets)) or "none"
            raise ConfigError(
                f"Benchmark '{self.benchmark}' has no dataset '{name}'; it has: {have}."
            )
        return self.datasets[name]

    def metric(self, name: str) -> np.ndarray:
        if name not in self.metrics:
            raise ConfigError(
                f"Benchmark '{self.benchmark}' has no metric '{name}'; "
                f"it has: {', '.join(sorted(self.metrics))}."
            )
        return self.metrics[name]

    def rank_of(self, value: float, metric: str) -> tuple[int, float]:
        """1-based rank of ``value`` among the known values of ``metric`` (1 = best), and
        its percentile (100 = best)."""
        col = self.metric(metric)
        known = col[~np.isnan(col)]
        rank = int((known > value + TIE).sum()) + 1  # a float-rounding twin ranks level
        pct = 100.0 * float((known <= value + TIE).sum()) / max(len(known), 1)
        return rank, pct


class Oracle:
    """The benchmark as one run sees it: answers queries and counts unique ones.

    Each distinct row queried costs one query of the budget, whatever the method; asking
    again for a known row is free (every method remembers what it paid for).
    """

    def __init__(self, table: Table, dataset: str, budget: int | None = None):
        self.table = table
        self.spec = table.dataset(dataset)
        self.signal_col = table.metric(self.spec.signal)
        self.report_col = table.metric(self.spec.report)
        self.budget = budget
        self.queried: dict[int, float] = {}  # row -> signal, in query order

    @property
    def n_queries(self) -> int:
        return len(self.queried)

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.n_queries >= self.budget

    def answerable(self, row: int | None) -> bool:
        return row is not None and not np.isnan(self.signal_col[row])

    def query(self, row: int) -> float:
        """The search signal of ``row``; counts it when new."""
        if row in self.queried:
            return self.queried[row]
        if self.exhausted:
            raise ConfigError(f"The query budget of {self.budget} is used up.")
        value = float(self.signal_col[row])
        if np.isnan(value):
            raise UnknownArchError(
                f"Benchmark '{self.table.benchmark}' has no '{self.spec.signal}' "
                f"result for {self.table.native(row)}."
            )
        self.queried[row] = value
        return value

    def query_many(self, rows: Iterable[int]) -> list[float]:
        return [self.query(r) for r in rows]

    def best(self) -> int:
        """The queried row with the best signal (ties: the first queried)."""
        if not self.queried:
            raise ConfigError("No architecture has been queried yet.")
        return max(self.queried, key=lambda r: self.queried[r])

    def report(self, row: int) -> float:
        """The reported metric of ``row`` (free: it is never used to choose)."""
        return float(self.report_col[row])
