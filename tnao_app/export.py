"""Export a recorded run: its leaderboard as JSON or CSV, the architectures in the
benchmark's own form, or a Python file defining the found network as a torch.nn.Module.

Formats (``export_run(store, run_id, fmt, top=None, out=None)``):
- ``json``: ``{"format": "tnao-run", "version": 2, "run": {...}, "leaderboard": [...]}``
  (missing values are ``null``).
- ``csv``: ``position,arch,predicted,valid,test,percentile``; an empty cell is a missing
  value; floats are written with ``repr`` so they read back exactly.
- ``arch``: NB201 / analog: one official architecture string per line, best first;
  NB101: a JSON list of ``{"position", "matrix", "ops"}`` (adjacency matrix + op labels).
- ``torch``: a self-contained Python file (it imports only torch) whose ``Network`` is the
  benchmark's macro skeleton built around the found cell; ``build(rank=1)``
  (the templates are in ``torch_export.py``).

A run with several objectives also exports its Pareto front (``export_front``): ``json``
(``{"format": "tnao-front", ...}`` with the objectives and the hypervolume share),
``csv`` (``arch`` and one column per objective), ``arch`` or ``torch`` (every front cell).

Two ranks exist and are never both called "rank": ``position`` is a row's place in the
run's leaderboard (1 = the run's best), ``table_rank`` is where an architecture's reported
metric ranks among all architectures of the benchmark table (in the run's ``result.best``).
Version 1 files and stored runs say ``rank`` for both; ``public_rows``/``public_result``
translate them and the readers accept both.

``parse_json``, ``parse_csv`` and ``parse_arch`` read the files back (used by the tests).
Every output is written atomically (an export either completes or leaves nothing) with the
mode a new file normally gets (0666 less the umask).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from .benchmarks.cache import atomic_write
from .errors import ConfigError, StorageError
from .objectives import best_first
from .torch_export import nb101_module, nb101_parts, nb201_module

FORMATS = ("json", "csv", "arch", "torch")
FORMAT_VERSION = 2  # 2: leaderboard "rank" -> "position", result best "rank" -> "table_rank"
COLUMNS = ("position", "arch", "predicted", "valid", "test", "percentile")
NB201_LIKE = ("nb201", "analog")  # analog shares NB201's cell space


def num_classes(dataset: str) -> int:
    """Classes of the dataset a run searched for (NB101 and analog are CIFAR-10)."""
    d = dataset.lower()
    if "cifar100" in d:
        return 100
    if "imagenet" in d:
        return 120
    return 10


def public_rows(rows: list[dict]) -> list[dict]:
    """Leaderboard rows as the outputs name them: ``position`` (in the run's leaderboard),
    never ``rank``; stored rows (``rank``) and already public rows are both accepted."""
    out = []
    for r in rows:
        row = {"position": r.get("position", r.get("rank"))}
        row.update((k, v) for k, v in r.items() if k not in ("rank", "position"))
        out.append(row)
    return out


def public_result(result: dict | None) -> dict | None:
    """A run result (as ``run_pipeline`` returns and the history stores it) with its two
    ranks named apart: ``best.table_rank`` (in the whole table; ``best.rank`` too) and
    leaderboard ``position``; old stored results are translated the same way."""
    if not isinstance(result, dict):
        return result
    out = dict(result)
    best = out.get("best")
    if isinstance(best, dict) and "rank" in best:
        # ``best.rank`` stays (the documented --json field); ``table_rank`` says the same
        # under the name the leaderboard rows use
        out["best"] = {**best, "table_rank": best["rank"]}
    if isinstance(out.get("leaderboard"), list):
        out["leaderboard"] = public_rows(out["leaderboard"])
    return out


def finite(value):
    """``value`` as plain JSON data: NaN and infinities (JSON has neither) as None, deep
    inside dicts and lists; numpy scalars and arrays as numbers and lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return finite(value.tolist())
    return value


def dumps(value, indent: int | None = 2) -> str:
    """The one way the CLI prints JSON: never ``NaN`` or ``Infinity`` (not JSON), which
    become ``null``; anything JSON has no type for is written as its text."""
    return json.dumps(finite(value), indent=indent, allow_nan=False, default=str)


def _fnum(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))


# -- writers -------------------------------------------------------------------------------
def _json_text(run: dict, rows: list[dict]) -> str:
    keep = (
        "id",
        "name",
        "benchmark",
        "dataset",
        "method",
        "seed",
        "status",
        "created_at",
        "started_at",
        "finished_at",
        "tnao_version",
        "device",
        "config",
        "result",
    )
    doc = {
        "format": "tnao-run",
        "version": FORMAT_VERSION,
        "run": {k: public_result(run.get(k)) if k == "result" else run.get(k) for k in keep},
        "leaderboard": [{k: r.get(k) for k in COLUMNS} for r in public_rows(rows)],
    }
    return dumps(doc) + "\n"


def _csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in public_rows(rows):
        w.writerow([r["position"], r["arch"], *(_fnum(r.get(k)) for k in COLUMNS[2:])])
    return buf.getvalue()


def _arch_text(benchmark: str, rows: list[dict]) -> str:
    if benchmark == "nb101":
        out = []
        for r in public_rows(rows):
            matrix, ops = nb101_parts(r["arch"])
            out.append({"position": r["position"], "matrix": matrix, "ops": ops})
        return "[\n" + ",\n".join(json.dumps(e) for e in out) + "\n]\n"  # a cell a line
    return "".join(f"{r['arch']}\n" for r in rows)


def export_text(run: dict, rows: list[dict], fmt: str) -> str:
    """The text of ``rows`` (leaderboard dicts, best first) of ``run`` in ``fmt``."""
    if fmt == "json":
        return _json_text(run, rows)
    if fmt == "csv":
        return _csv_text(rows)
    bench = run["benchmark"]
    if not rows:
        raise StorageError(
            f"Run {run['id']} has no leaderboard yet (status {run['status']}); there is no "
            f"architecture to export as {fmt}."
        )
    if fmt == "arch":
        return _arch_text(bench, rows)
    if bench in NB201_LIKE:
        return nb201_module(run, rows, num_classes(run["dataset"]))
    if bench == "nb101":
        return nb101_module(run, rows, num_classes(run["dataset"]))
    raise ConfigError(f"Benchmark '{bench}' has no torch export; expected nb201, analog or nb101.")


def export_run(
    store, run_id: str, fmt: str, top: int | None = None, out: str | os.PathLike | None = None
) -> str:
    """Export run ``run_id`` of ``store`` in ``fmt``; write it to ``out`` when given.

    ``top``: the best K leaderboard rows (default: all; ``torch``: 1). Returns the text.
    """
    if fmt not in FORMATS:
        raise ConfigError(
            f"Export format '{fmt}' is unknown; expected one of {', '.join(FORMATS)}."
        )
    if top is not None and top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}.")
    check_out(fmt, out)
    run = store.get_run(run_id)
    rows = store.leaderboard(run["id"])
    if top is None and fmt == "torch":
        top = 1
    if top is not None:
        rows = rows[:top]
    text = export_text(run, rows, fmt)
    if out is not None:
        target = Path(out).expanduser().resolve()
        db = Path(store.path).resolve()
        if target in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            raise StorageError(
                f"Cannot write the export to {out}: it is the run history itself; "
                "give another file name."
            )
        write_text(Path(out), text)
    return text


WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors")


def check_out(fmt: str, out: str | os.PathLike | None) -> None:
    """A torch export is Python source: a ``.pt`` / ``.pth`` name (what ``torch.load``
    reads) would hold a file that ``torch.load`` cannot read."""
    if fmt == "torch" and out is not None and Path(out).suffix.lower() in WEIGHT_SUFFIXES:
        raise ConfigError(
            f"The torch export is a Python file that defines the network, not saved "
            f"weights; expected a .py file name, got {Path(out).name}."
        )


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically; one sentence if the path cannot be written."""
    path = path.expanduser()
    if path.is_dir():
        raise StorageError(f"Cannot write the export to {path}: it is a folder; give a file name.")
    if not path.parent.is_dir():
        raise StorageError(
            f"Cannot write the export to {path}: the folder {path.parent} does not exist."
        )
    try:
        atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    except OSError as exc:
        raise StorageError(f"Cannot write the export to {path} ({exc.strerror or exc}).") from None


# -- the Pareto front of a run with several objectives ---------------------------------------
FRONT_FORMATS = ("json", "csv", "arch", "torch")


def front_of(run: dict) -> tuple[list[dict], list[dict]]:
    """The objectives and the front entries of a recorded run; one sentence where the run
    has no front (it searched one objective, or has not finished)."""
    res = run.get("result") or {}
    if not isinstance(res, dict) or not isinstance(res.get("front"), list):
        raise StorageError(
            f"Run {run['id']} has no Pareto front (status {run.get('status')}); a run "
            "searched with several objectives (--objectives valid,-flops) has one."
        )
    objectives = list(res.get("objectives") or [])
    return objectives, best_first(objectives, list(res["front"]))


def front_text(run: dict, fmt: str) -> str:
    """The run's front in ``fmt``: ``json`` (objectives, hypervolume share and the
    entries), ``csv`` (``arch`` and one column per objective), ``arch`` (one string a
    line) or ``torch`` (a module file with every front cell, ``build(rank=i)``)."""
    if fmt not in FRONT_FORMATS:
        raise ConfigError(
            f"Export format '{fmt}' is unknown; expected one of {', '.join(FRONT_FORMATS)}."
        )
    objectives, front = front_of(run)
    names = [str(o["name"]) for o in objectives]
    res = run["result"]
    if fmt == "json":
        doc = {
            "format": "tnao-front",
            "version": 1,
            "run": {k: run.get(k) for k in ("id", "benchmark", "dataset", "method", "seed")},
            "objectives": objectives,
            "constraints": res.get("constraints", []),
            "hypervolume": res.get("hypervolume"),
            "hypervolume_share": res.get("hypervolume_share"),
            "front": front,
        }
        return dumps(doc) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["arch", *names])
        for e in front:
            w.writerow([e["arch"], *(_fnum(e.get(n)) for n in names)])
        return buf.getvalue()
    rows = [{"position": i, "arch": e["arch"]} for i, e in enumerate(front, 1)]
    return export_text(run, rows, fmt)


def export_front(store, run_id: str, fmt: str, out: str | os.PathLike | None = None) -> str:
    """Export the Pareto front of run ``run_id``; write it to ``out`` when given."""
    check_out(fmt, out)
    text = front_text(store.get_run(run_id), fmt)
    if out is not None:
        write_text(Path(out), text)
    return text


def parse_front_csv(text: str) -> list[dict]:
    """The entries of a front ``csv`` export (``arch`` and a number per objective)."""
    return [
        {k: (v if k == "arch" else float(v)) for k, v in rec.items()}
        for rec in csv.DictReader(io.StringIO(text))
    ]


# -- readers (round trips) -----------------------------------------------------------------
def parse_json(text: str) -> list[dict]:
    """The leaderboard rows of a ``json`` export (version 1 files too), with ``position``."""
    return public_rows(json.loads(text)["leaderboard"])


def parse_csv(text: str) -> list[dict]:
    """The leaderboard rows of a ``csv`` export (missing values as None); a version 1 file
    (a ``rank`` column) reads as ``position``."""
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        pos = rec["position"] if "position" in rec else rec["rank"]
        row: dict = {"position": int(pos), "arch": rec["arch"]}
        for k in COLUMNS[2:]:
            row[k] = float(rec[k]) if rec[k] != "" else None
        rows.append(row)
    return rows


def parse_arch(text: str, benchmark: str) -> list[str]:
    """The native architecture strings of an ``arch`` export, best first (NB101: the
    ``{"matrix", "ops"}`` JSON of each)."""
    if benchmark == "nb101":
        return [json.dumps({"matrix": a["matrix"], "ops": a["ops"]}) for a in json.loads(text)]
    return [line.strip() for line in text.splitlines() if line.strip()]
