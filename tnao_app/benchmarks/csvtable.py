"""The CSV table reader every benchmark's CSV importer uses (plain or gzip files).

Importers differ in which columns name a row and how a row becomes a cell; opening the
file, the header, the field counts, the numbers and the wording of errors (file, line
and column named) are the same for all, so a user reads one kind of message whatever
the benchmark.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import DataError
from . import cache

GZIP_MAGIC = b"\x1f\x8b"
# What a truncated, corrupt or mis-encoded file raises while it is read.
_UNREADABLE = (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError, csv.Error)


def is_gzip(path: Path) -> bool:
    """Whether ``path`` is gzip data (by its magic bytes, whatever its name says)."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def open_text(path: Path) -> io.TextIOWrapper:
    """A CSV/text file for reading, plain or gzip."""
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


class MetricColumns:
    """The metric columns of a table: which canonical metric each holds, at what scale,
    and the values read so far (NaN for an empty cell)."""

    def __init__(self, table: CsvTable, cols: dict[int, tuple[str, float]]) -> None:
        self._table = table
        self._cols = cols
        self.values: dict[str, list[float]] = {c: [] for c, _ in cols.values()}

    def read(self, line: int, row: list[str]) -> None:
        """Append the metrics of one row; a cell that is not a number, or not one the
        metric can have (an infinity, a negative count, an accuracy above 100 %), is an
        error naming its line and column. An empty cell is a missing value (NaN)."""
        number = self._table.number
        for j, (canon, scale) in self._cols.items():
            value = number(line, row, j, scale)
            lo, hi, expected = cache.metric_bounds(canon)
            if not lo <= value <= hi and not math.isnan(value):
                if scale != 1.0:  # fractions read as percent: say it in the file's unit
                    expected = f"a fraction from {lo / scale:g} to {hi / scale:g}"
                raise DataError(
                    f"{self._table.name} line {line} column '{self._table.header[j]}' is "
                    f"'{row[j].strip()}', expected {expected}."
                )
            self.values[canon].append(value)


class CsvTable:
    """An open CSV table: its header (names stripped) and its data rows."""

    def __init__(self, name: str, header: list[str], reader: Iterator[list[str]]) -> None:
        self.name = name
        self.header = header
        self.col: dict[str, int] = {}
        for j, h in enumerate(header):
            if h in self.col:  # which of the two would a reader take? Neither: say so.
                raise DataError(
                    f"{name} has the column '{h}' twice (columns {self.col[h] + 1} and "
                    f"{j + 1}); expected each column name once."
                )
            self.col[h] = j
        self._reader = reader

    def column(self, *names: str) -> int | None:
        """The index of the first of ``names`` the header has (aliases, preferred first)."""
        for n in names:
            if n in self.col:
                return self.col[n]
        return None

    def metrics(self, canon: Callable[[str], tuple[str, float] | None]) -> MetricColumns:
        """The columns ``canon`` names ``(metric, scale)``; ``None`` ignores a column."""
        cols: dict[int, tuple[str, float]] = {}
        seen: dict[str, int] = {}
        for j, h in enumerate(self.header):
            got = canon(h)
            if got is None:
                continue
            if got[0] in seen:  # two names of one metric (an alias and the canonical name)
                raise DataError(
                    f"{self.name} has the columns '{self.header[seen[got[0]]]}' and '{h}', "
                    f"which both hold the metric '{got[0]}'; expected one column per metric."
                )
            seen[got[0]] = j
            cols[j] = got
        return MetricColumns(self, cols)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, fields)`` of every non-empty data row, the header being line 1."""
        width = len(self.header)
        for r, row in enumerate(self._reader, start=2):
            if not row:
                continue
            if len(row) != width:
                raise DataError(f"{self.name} line {r} has {len(row)} fields, expected {width}.")
            yield r, row

    def number(self, line: int, row: list[str], j: int, scale: float = 1.0) -> float:
        """The number in a cell (times ``scale``); NaN for an empty cell (a missing value).
        A written NaN or infinity is an error: a missing value is an empty cell."""
        cell = row[j].strip()
        try:
            value = float(cell) if cell else float("nan")
        except ValueError:
            raise DataError(
                f"{self.name} line {line} column '{self.header[j]}' is '{cell}', expected a number."
            ) from None
        if cell and not math.isfinite(value):
            raise DataError(
                f"{self.name} line {line} column '{self.header[j]}' is '{cell}', expected a "
                "finite number (an empty cell for a missing value)."
            )
        return scale * value

    def integer(self, line: int, row: list[str], j: int) -> int:
        try:
            return int(row[j])
        except ValueError:
            raise DataError(
                f"{self.name} line {line} column '{self.header[j]}' is '{row[j]}', "
                "expected an integer."
            ) from None


@contextmanager
def open_table(path: Path, expect: str) -> Iterator[CsvTable]:
    """The table in ``path`` for the ``with`` block; ``expect`` names the column an empty
    file lacks. Read errors inside the block become one ``DataError`` naming the file."""
    name = path.name
    try:
        with open_text(path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise DataError(f"{name} is empty; expected a CSV header with {expect}.")
            yield CsvTable(name, [h.strip() for h in header], reader)
    except _UNREADABLE as exc:
        raise DataError(f"{name} could not be read as a CSV table ({exc}).") from None


def source_meta(path: Path) -> dict:
    """The cache metadata every CSV import starts from: which file, its checksum."""
    return {
        "source": path.name,
        "source_path": str(path.resolve()),
        "source_sha256": cache.sha256_of(path),
        "format": "csv",
    }
