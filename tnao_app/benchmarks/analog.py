"""AnalogNAS-Bench, the embedded default: installed with the project, works offline.

The PyPI package ``analog-nasbench`` ships ``analognasbench/data.anb``, a pickled dict of
15,625 entries keyed by a 6-tuple of op codes, in the NAS-Bench-201 cell space (CIFAR-10).
Importing the package fails on new setuptools (it imports ``pkg_resources``), so we find
the file without importing it and unpickle it with an allow-list of exactly the two
record classes, rebuilt here as plain attribute holders: the file can run no code.

Metric columns (all accuracies in percent, CIFAR-10 test): ``baseline``, ``ptq``, ``qat``,
``noisy``, ``analog`` (the package's ``*_accuracy``), and the mean accuracy after
conductance drift, at 1 minute, 1 hour, 1 day and 1 month after programming the
weights: ``baseline_drift_1min``, ``baseline_drift_1h``, ``baseline_drift_1d``,
``baseline_drift_1mo`` (the baseline-trained network) and ``analog_drift_1min`` ...
``analog_drift_1mo`` (the network trained for analog hardware): the package's
``baseline_drift_60`` ... ``analog_drift_2592000`` (seconds), whose ``value ± uncertainty``
we keep the value of. A value that is missing or not a number (nor a ``"value ± u"``
string) is NaN; so is ``0 ± 0``, what the package stores for a string it could not parse.

Mapping into our NB201 space (measured: Spearman 0.99 of ``baseline_accuracy`` against
NB201 cifar10 test accuracy, checked by a test): the package's op codes
0..4 are skip_connect, none, nor_conv_3x3, nor_conv_1x1, avg_pool_3x3, and its tuple
positions 0..5 are NB201 edges 0, 1, 3, 2, 4, 5.
"""

from __future__ import annotations

import importlib.util
import math
import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError, FolderError, NotReadyError
from . import cache
from .base import DatasetSpec, Table
from .nb201 import EDGES, SPACE

PACKAGE = "analognasbench"
OP_MAP = (1, 0, 3, 2, 4)  # package op code -> NB201 op code
EDGE_MAP = (0, 1, 3, 2, 4, 5)  # package tuple position -> NB201 edge
METRICS = {
    "baseline_accuracy": "baseline",
    "ptq_accuracy": "ptq",
    "qat_accuracy": "qat",
    "noisy_accuracy": "noisy",
    "analog_accuracy": "analog",
}
#: drift fields (seconds after programming) -> our columns; their values are accuracies
DRIFT = {
    f"{kind}_drift_{seconds}": f"{kind}_drift_{when}"
    for kind in ("baseline", "analog")
    for seconds, when in ((60, "1min"), (3600, "1h"), (86400, "1d"), (2592000, "1mo"))
}
#: the columns this converter writes; a cache from another version is converted again
TABLE_VERSION = 2
DATASETS = {
    "cifar10": DatasetSpec(
        "cifar10",
        "baseline",
        "baseline",
        note="AnalogNAS-Bench has one accuracy per metric: it is both signal and report",
    ),
    **{
        f"cifar10-{m}": DatasetSpec(f"cifar10-{m}", m, m, note=f"{m} accuracy (AnalogNAS-Bench)")
        for m in ("ptq", "qat", "noisy", "analog")
    },
}


class _Record:
    """Stands in for ``analognasbench.data.Architecture``: only holds attributes."""


class _Drift:
    """Stands in for ``analognasbench.data.DriftMeasurement``."""


class _SafeUnpickler(pickle.Unpickler):
    _allowed = {
        ("analognasbench.data", "Architecture"): _Record,
        ("analognasbench.data", "DriftMeasurement"): _Drift,
    }

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise DataError(
                f"The AnalogNAS-Bench data holds an unexpected type {module}.{name}; "
                "expected only Architecture and DriftMeasurement records."
            ) from None


def _number(raw: object) -> float:
    """A finite float of a number or a numeric string, else NaN (never raises)."""
    if isinstance(raw, bool):
        return math.nan
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            return math.nan
    if not isinstance(raw, (int, float)):
        return math.nan
    try:
        value = float(raw)
    except OverflowError:  # an int too large for a float
        return math.nan
    return value if math.isfinite(value) else math.nan


def drift_value(raw: object) -> float:
    """The mean accuracy of a drift field: a ``DriftMeasurement`` (its ``value``), a number,
    or a ``"value ± uncertainty"`` string; NaN for anything else, and for ``0 ± 0``, the
    package's stand-in for a string it could not parse."""
    if isinstance(raw, _Drift):
        state = vars(raw)
        value = _number(state.get("value"))
        if value == 0.0 and _number(state.get("uncertainty", 0.0)) == 0.0:
            return math.nan
        return value
    if isinstance(raw, str) and "±" in raw:
        raw = raw.split("±", 1)[0]
    return _number(raw)


def data_file() -> Path:
    """Where the installed package keeps ``data.anb`` (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise NotReadyError(
            "The package 'analog-nasbench' is not installed; run: pip install analog-nasbench"
        )
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "data.anb"
        if p.exists():
            return p
    raise NotReadyError("The package 'analog-nasbench' has no data.anb; reinstall it.")


def to_nb201(key: tuple[int, ...]) -> tuple[int, ...]:
    """The NB201 op tuple of a package key."""
    arch = [0] * len(EDGES)
    for pos, code in enumerate(key):
        arch[EDGE_MAP[pos]] = OP_MAP[code]
    return tuple(arch)


def convert(path: Path | None = None) -> Path:
    """Read ``data.anb`` safely and write the ``analog`` cache."""
    return cache.save("analog", *read(path))


def read(path: Path | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """``(tokens, metrics, meta)`` of ``data.anb``, read safely."""
    path = Path(path) if path else data_file()
    try:
        with open(path, "rb") as f:
            raw = _SafeUnpickler(f).load()
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path} is not a readable AnalogNAS-Bench file ({exc}).") from None
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{path} does not hold the expected dict of architectures.")
    archs: list[tuple[int, ...]] = []
    cols: dict[str, list[float]] = {m: [] for m in (*METRICS.values(), *DRIFT.values())}
    for key, rec in raw.items():
        if not (isinstance(key, tuple) and len(key) == 6 and all(0 <= k <= 4 for k in key)):
            raise DataError(f"{path} has an entry keyed {key!r}; expected a 6-tuple of 0..4.")
        archs.append(to_nb201(key))
        for attr, m in METRICS.items():
            cols[m].append(_number(getattr(rec, attr, None)))
        for attr, m in DRIFT.items():
            cols[m].append(drift_value(getattr(rec, attr, None)))
    if len(set(archs)) != len(archs):
        raise DataError(f"{path} maps two entries onto one NB201 cell.")
    tokens = np.asarray(archs, dtype=np.int8)
    meta = {
        "source": "analog-nasbench (installed package)",
        "source_path": str(path),
        "source_sha256": cache.sha256_of(path),
        "format": "anb",
        "table_version": TABLE_VERSION,
    }
    return tokens, {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}, meta


def load_table() -> Table:
    """The analog table; converts the packaged file on first use (no network). Where the
    cache cannot be written (a read-only or full TNAO_HOME) the table is read from the
    package each time instead: the embedded default works wherever the package does. A
    cache written by another version of this converter (other columns) is converted again."""
    got = cache.load("analog")
    if got is None or got[2].get("table_version") != TABLE_VERSION:
        tokens, metrics, meta = read()
        try:
            path = cache.save("analog", tokens, metrics, meta)
        except FolderError:
            return Table("analog", SPACE, tokens, metrics, dict(DATASETS), meta)
        got = cache.load("analog")
        if got is None:  # written a moment ago: only a concurrent delete gets here
            raise DataError(f"{path} vanished right after it was written; try again.")
        if got[2].get("table_version") != TABLE_VERSION:
            # an older tnao beside this one rewrote it meanwhile: use what we read
            return Table("analog", SPACE, tokens, metrics, dict(DATASETS), meta)
    tokens, metrics, meta = got
    return Table("analog", SPACE, tokens, metrics, dict(DATASETS), meta)
