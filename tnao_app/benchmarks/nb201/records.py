"""The records of the official NAS-Bench-201 / NATS-Bench files, as table rows.

Every layout holds per-architecture ``ArchResults`` state dicts whose
``all_results[(dataset, seed)]`` are ``ResultsCount`` state dicts. A row's metrics use
the canonical names of :data:`METRICS`, each the mean over the seeds present of the
final-epoch value (``eval_acc1es['<set>@<epochs-1>']``), as the official API's
``get_more_info`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import SupportsIndex, SupportsInt

import numpy as np

from ...errors import DataError, UnknownArchError
from .space import SPACE, Cell
from .table import METRICS

# Container key of a schedule -> its number of epochs (.pth: 'less'/'full'; NATS: '12'/'200').
_HP = {"less": 12, "full": 200, "12": 12, "200": 200}
_CIFAR10_VALID, _CIFAR10 = "cifar10-valid", "cifar10"
_SPLIT_SETS = ("cifar100", "ImageNet16-120")  # datasets with x-valid / x-test halves


class _NotFinite(Exception):
    """A record holds NaN or an infinity where a metric's value belongs."""

    def __init__(self, metric: str, value: float) -> None:
        super().__init__(metric, value)
        self.metric, self.value = metric, value


def _mean(values: Iterable[float | None]) -> float:
    """The mean of the values present (None: absent); NaN when none is."""
    got = [v for v in values if v is not None]
    for v in got:
        if not math.isfinite(v):
            raise _NotFinite("", v)
    return float(sum(got) / len(got)) if got else float("nan")


def _put(out: dict[str, float], metric: str, values: Iterable[float | None]) -> None:
    """``out[metric]`` = the mean of ``values``; a NaN or infinite value names the metric."""
    try:
        out[metric] = _mean(values)
    except _NotFinite as exc:
        raise _NotFinite(metric, exc.value) from None


def _num(x) -> float | None:
    if x is None:
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _final_index(rc: Mapping, curve: Mapping | None, setname: str | None) -> int | None:
    ep = rc.get("epochs")
    if isinstance(ep, (int, np.integer)) and ep > 0:
        return int(ep) - 1
    # No epoch count: take the last epoch the curve has.
    if not curve:
        return None
    if setname is None:
        keys = [k for k in curve if isinstance(k, (int, np.integer))]
    else:
        keys = [
            int(k.split("@", 1)[1])
            for k in curve
            if isinstance(k, str) and k.startswith(setname + "@") and k.split("@", 1)[1].isdigit()
        ]
    return int(max(keys)) if keys else None


def _final_eval(rc: Mapping, setname: str) -> float | None:
    accs = rc.get("eval_acc1es")
    if not isinstance(accs, Mapping):
        return None
    i = _final_index(rc, accs, setname)
    return None if i is None else _num(accs.get(f"{setname}@{i}"))


def _final_train(rc: Mapping) -> tuple[float | None, float | None]:
    """Final train accuracy and total train time (sum of per-epoch times, as the API)."""
    accs = rc.get("train_acc1es")
    i = _final_index(rc, accs if isinstance(accs, Mapping) else None, None)
    acc = _num(accs.get(i)) if isinstance(accs, Mapping) and i is not None else None
    times = rc.get("train_times")
    total = None
    if isinstance(times, Mapping) and i is not None:
        parts = [_num(times.get(e)) for e in range(i + 1)]
        known = [p for p in parts if p is not None]
        if len(known) == len(parts):
            total = float(sum(known))
    return acc, total


def _runs(state: Mapping, dataset: str) -> list[Mapping]:
    results = state.get("all_results")
    if not isinstance(results, Mapping):
        return []
    seeds = (state.get("dataset_seed") or {}).get(dataset)
    if seeds is None:
        seeds = sorted(s for (d, s) in results if d == dataset)
    return [results[(dataset, s)] for s in seeds if isinstance(results.get((dataset, s)), Mapping)]


def _split_pair(rc: Mapping) -> tuple[float | None, float | None]:
    """x-valid and x-test of one run; either can be rebuilt from the other and ori-test,
    since ori-test is their mean (equal-size halves of the original test set)."""
    xv, xt, ot = (_final_eval(rc, s) for s in ("x-valid", "x-test", "ori-test"))
    if xv is None and xt is not None and ot is not None:
        xv = 2 * ot - xt
    if xt is None and xv is not None and ot is not None:
        xt = 2 * ot - xv
    return xv, xt


def _schedule_metrics(state: Mapping, epochs: int) -> dict[str, float]:
    out: dict[str, float] = {}
    e = epochs
    runs = _runs(state, _CIFAR10_VALID)
    _put(out, f"cifar10-valid/x-valid@{e}", (_final_eval(r, "x-valid") for r in runs))
    if e == 200:
        _put(out, "cifar10-valid/ori-test@200", (_final_eval(r, "ori-test") for r in runs))
        trains = [_final_train(r) for r in runs]
        _put(out, "cifar10-valid/train@200", (t[0] for t in trains))
        _put(out, "cifar10-valid/train-time@200", (t[1] for t in trains))
    _put(out, f"cifar10/ori-test@{e}", (_final_eval(r, "ori-test") for r in _runs(state, _CIFAR10)))
    for ds in _SPLIT_SETS:
        pairs = [_split_pair(r) for r in _runs(state, ds)]
        _put(out, f"{ds}/x-valid@{e}", (p[0] for p in pairs))
        _put(out, f"{ds}/x-test@{e}", (p[1] for p in pairs))
    return out


def _costs(state: Mapping) -> dict[str, float]:
    out: dict[str, float] = {}
    for ds in (_CIFAR10, *_SPLIT_SETS):
        runs = _runs(state, ds) or (_runs(state, _CIFAR10_VALID) if ds == _CIFAR10 else [])
        _put(out, f"{ds}/params", (_num(r.get("params")) for r in runs))
        _put(out, f"{ds}/flops", (_num(r.get("flop")) for r in runs))
    return out


def arch_metrics(hp_states: object, where: str) -> dict[str, float]:
    """Canonical metrics of one architecture from its ``{schedule: ArchResults state}``."""
    if not isinstance(hp_states, Mapping):
        raise DataError(
            f"{where} is a {type(hp_states).__name__}; expected a dict of "
            "ArchResults states keyed '12'/'200' (or 'less'/'full')."
        )
    try:
        return _arch_metrics(hp_states, where)
    except _NotFinite as exc:
        raise DataError(
            f"{where} has {exc.value} as '{exc.metric}'; expected a finite number."
        ) from None


def _arch_metrics(hp_states: Mapping, where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    by_epochs: dict[int, Mapping] = {}
    for key, state in hp_states.items():
        epochs = _HP.get(str(key))
        if epochs is None:
            continue  # another schedule (none exists in the topology space): not ours
        if not isinstance(state, Mapping) or not isinstance(state.get("all_results"), Mapping):
            raise DataError(
                f"{where} schedule '{key}' is not an ArchResults state dict "
                "(expected a dict with 'all_results')."
            )
        by_epochs[epochs] = state
        out.update(_schedule_metrics(state, epochs))
    if not by_epochs:
        raise DataError(
            f"{where} has no 12- or 200-epoch results; expected keys '12'/'200' or 'less'/'full'."
        )
    costs = _costs(by_epochs.get(200) or by_epochs[12])
    if 200 in by_epochs and 12 in by_epochs:  # fill a missing cost from the other schedule
        for k, v in _costs(by_epochs[12]).items():
            if math.isnan(costs[k]):
                costs[k] = v
    out.update(costs)
    return out


def state_arch_str(hp_states: Mapping) -> str | None:
    for state in hp_states.values():
        if isinstance(state, Mapping) and isinstance(state.get("arch_str"), str):
            return state["arch_str"]
    return None


def parse_meta_archs(meta_archs, source: str) -> list[str]:
    if not isinstance(meta_archs, (list, tuple)) or not meta_archs:
        raise DataError(f"{source} has no 'meta_archs' list of architecture strings.")
    if not all(isinstance(s, str) for s in meta_archs):
        raise DataError(f"{source} 'meta_archs' holds a non-string entry; expected strings.")
    return list(meta_archs)


Item = tuple[object, "str | None", dict[str, float]]  # (index, arch_str in record, metrics)


def _as_int(key: object) -> int | None:
    """``int(key)``, or ``None`` where that fails: a record's key is whatever the pickle
    holds (an int in the official files)."""
    if isinstance(key, (str, bytes, bytearray, SupportsInt, SupportsIndex)):
        try:
            return int(key)
        except (TypeError, ValueError):
            return None
    return None


def build_rows(
    source: str, meta_archs: list[str], items: Iterable[Item]
) -> tuple[list[Cell], dict[str, list[float]], int]:
    """Turn converted records into rows ordered by official index."""
    rows: dict[int, tuple[Cell, dict[str, float]]] = {}
    for key, stated, metrics in items:
        index = _as_int(key)
        if index is None:
            raise DataError(
                f"{source} has an architecture keyed {key!r}; expected an integer index."
            )
        if not 0 <= index < len(meta_archs):
            raise DataError(
                f"{source} has architecture index {index}; expected 0.."
                f"{len(meta_archs) - 1} (the length of 'meta_archs')."
            )
        where = f"{source} architecture {index}"
        arch_str = meta_archs[index]
        if stated is not None and stated != arch_str:
            raise DataError(
                f"{where} is '{stated}' in its record but '{arch_str}' in "
                "'meta_archs'; the file is inconsistent."
            )
        try:
            arch = SPACE.from_native(arch_str)
        except UnknownArchError as exc:
            raise DataError(f"{where}: {exc}") from None
        rows[index] = (arch, metrics)
    order = sorted(rows)
    archs = [rows[i][0] for i in order]
    cols = {m: [rows[i][1].get(m, float("nan")) for i in order] for m in METRICS}
    cols = {m: v for m, v in cols.items() if not all(math.isnan(x) for x in v)}
    return archs, cols, len(order)


def convert_records(source: str, records: Iterator[tuple[object, Mapping]]) -> Iterator[Item]:
    for key, hp_states in records:
        stated = state_arch_str(hp_states) if isinstance(hp_states, Mapping) else None
        yield key, stated, arch_metrics(hp_states, f"{source} architecture {key}")
        del hp_states  # drop the record before the next one is taken


def drain(d: dict) -> Iterator[tuple[object, Mapping]]:
    """Yield and remove the entries of ``d``, so memory is freed as they are converted."""
    while d:
        yield d.popitem()


def import_meta(source: str, path: Path, fmt: str, sha: str, n: int, n_meta: int) -> dict:
    return {
        "source": source,
        "source_path": str(path.resolve()),
        "source_sha256": sha,
        "format": fmt,
        "official_order": True,
        "partial": n < n_meta,
        "n_in_source": n_meta,
    }


def check_top(obj, source: str) -> dict:
    if not isinstance(obj, dict) or "meta_archs" not in obj or "arch2infos" not in obj:
        got = sorted(map(str, obj))[:5] if isinstance(obj, dict) else type(obj).__name__
        raise DataError(
            f"{source} is not in the official layout: expected a dict with "
            f"'meta_archs' and 'arch2infos', got {got}."
        )
    if not isinstance(obj["arch2infos"], dict):
        raise DataError(f"{source} 'arch2infos' is not a dict of architectures.")
    return obj
