"""Where event fields meet stored columns: the one map of each recorded event to its rows.

The recorder writes an event's row with ``MAPS[type(e)].row(e)``; the store reads rows
back as events with ``.event(row)`` (``Store.replay``), which is how the app rebuilds a
recorded run. Column names stay as older histories have them (``Generation.distinct`` is
stored as ``distinct_archs``, ``Queried.n_queries`` as ``n``, ``RunStarted.config`` as
``resolved``): this file is the only place that knows. tests/test_storage.py checks that
every field of every event here is mapped and survives a write and a read, so a renamed
or added field fails there instead of being dropped.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

from tnao_app import events as ev

from .base import clean


def to_json(value) -> str | None:
    """``value`` as JSON (numpy scalars and arrays as numbers and lists); None stays None."""

    def default(o):
        if hasattr(o, "item"):  # numpy scalar
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)

    return json.dumps(value, default=default, allow_nan=False) if value is not None else None


def jsonable(value):
    """Replace NaN/inf by None deep inside a result dict (JSON has no NaN)."""
    if isinstance(value, float):
        return clean(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not hasattr(value, "__len__"):
        return jsonable(value.item())
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return value


def from_json(text, empty=None):
    """A JSON column back as a value (``empty`` for NULL); a parsed one as it is."""
    if text is None or text == "":
        return empty
    return json.loads(text) if isinstance(text, str) else text


STOPPED = "stopped during "  # RunStopped.stage is kept in the run's message


def _plan_out(plan: ev.RunPlan | None) -> str | None:
    return to_json(dataclasses.asdict(plan)) if plan is not None else None


def _plan_in(text) -> ev.RunPlan | None:
    data = from_json(text)
    if not isinstance(data, dict):
        return None
    names = {f.name for f in dataclasses.fields(ev.RunPlan)}
    data = {k: v for k, v in data.items() if k in names}  # a newer TNAO's extra keys
    if "stages" in data:
        data["stages"] = tuple(data["stages"])
    return ev.RunPlan(**data)


def _float_in(value) -> float:
    return math.nan if value is None else float(value)


#: how a field is written -> read: (out, in)
CODECS = {
    "": (lambda v: v, lambda v: v),
    "int": (int, lambda v: int(v or 0)),
    "float": (lambda v: clean(float(v)), _float_in),  # NaN <-> NULL
    "bool": (int, lambda v: bool(v or 0)),
    "json": (lambda v: to_json(jsonable(v)), lambda v: from_json(v, {})),
    "plan": (_plan_out, _plan_in),
    "stopped": (lambda v: f"{STOPPED}{v}", lambda v: (v or "").removeprefix(STOPPED)),
    # Store.claim counts resumes; an event read back was a resume once there was one
    "resumed": (None, lambda v: bool(v or 0)),
}


@dataclass(frozen=True)
class Col:
    name: str  # the stored column
    codec: str = ""  # a key of CODECS


@dataclass(frozen=True)
class Map:
    """Event ``cls`` <-> rows of ``table``: ``cols`` maps each field to its column.

    ``many``: the event spreads over several rows (its fields are tuples, element i in
    row i; ``index`` numbers the rows where the event has no field that does).
    """

    cls: type
    table: str
    cols: dict[str, Col]
    many: bool = False
    index: str = ""

    def row(self, event) -> dict:
        """The columns of ``event`` (one row)."""
        out = {}
        for name, col in self.cols.items():
            write = CODECS[col.codec][0]
            if write is not None:
                out[col.name] = write(getattr(event, name))
        return out

    def rows(self, event) -> list[dict]:
        """The rows of a ``many`` event."""
        # one tuple per field: cell i of each goes in row i
        parts = [[(col, item) for item in getattr(event, name)] for name, col in self.cols.items()]
        out = []
        for i, cells in enumerate(zip(*parts, strict=True)):
            row = {self.index: i} if self.index else {}
            for col, item in cells:
                value = CODECS[col.codec][0](item)
                row.update(value if isinstance(value, dict) else {col.name: value})
            out.append(row)
        return out

    def event(self, row: dict):
        """The event a row holds (a row lacking a column: the field's default)."""
        data = {}
        for name, col in self.cols.items():
            if col.name in row:
                data[name] = CODECS[col.codec][1](row[col.name])
        return self.cls(**data)

    def event_of_rows(self, rows: list[dict]):
        """The event of a ``many`` map, from its rows in order."""
        data = {}
        for name, col in self.cols.items():
            read = CODECS[col.codec][1]
            data[name] = tuple(read(r if col.codec == "leader" else r[col.name]) for r in rows)
        return self.cls(**data)


_F = "float"
LEADER_ROW = Map(
    ev.LeaderRow,
    "leaderboard",
    {
        "rank": Col("rank", "int"),
        "arch": Col("arch"),
        **{k: Col(k, _F) for k in ("predicted", "valid", "test", "percentile")},
    },
)
CODECS["leader"] = (LEADER_ROW.row, LEADER_ROW.event)  # a whole LeaderRow per row


def leader_row(data: dict) -> dict:
    """The stored row of a leaderboard entry given as a dict (a result's "leaderboard")."""
    names = [c.name for c in LEADER_ROW.cols.values()]
    return LEADER_ROW.row(LEADER_ROW.event({**dict.fromkeys(names), **data}))


#: every event the history records, by type; Progress alone is not recorded (per batch:
#: it only refreshes the heartbeat)
MAPS: dict[type, Map] = {
    m.cls: m
    for m in (
        Map(
            ev.RunStarted,
            "runs",
            {
                "run_id": Col("id"),
                "benchmark": Col("benchmark"),
                "dataset": Col("dataset"),
                "method": Col("method"),
                "seed": Col("seed", "int"),
                "device": Col("device"),
                "config": Col("resolved", "json"),  # as the pipeline resolved it
                "resumed": Col("resumes", "resumed"),
                "plan": Col("plan", "plan"),
            },
        ),
        Map(
            ev.StageStarted,
            "stages",
            {
                "stage": Col("stage"),
                "round": Col("round", "int"),
                "steps": Col("steps", "int"),
                "rounds": Col("rounds", "int"),
                "restarted": Col("restarted", "bool"),
            },
        ),
        Map(
            ev.StageFinished,
            "stages",
            {
                "stage": Col("stage"),
                "seconds": Col("seconds", _F),
                "summary": Col("summary", "json"),
                "round": Col("round", "int"),
            },
        ),
        Map(
            ev.Sampled,
            "sampled",
            {"archs": Col("arch"), "signal": Col("signal", _F)},
            many=True,
            index="idx",
        ),
        Map(
            ev.Queried,
            "queries",
            {
                "arch": Col("arch"),
                "signal": Col("signal", _F),
                "n_queries": Col("n", "int"),
                "budget": Col("budget", "int"),
            },
        ),
        Map(
            ev.EpochEnded,
            "epochs",
            {
                "epoch": Col("epoch", "int"),
                "epochs": Col("epochs", "int"),
                **{
                    k: Col(k, _F)
                    for k in (
                        "loss_rec",
                        "loss_rank",
                        "loss_total",
                        "val_tau",
                        "val_spearman",
                        "seconds",
                    )
                },
                "device": Col("device"),
                "round": Col("round", "int"),
                "step": Col("step", "int"),
            },
        ),
        Map(
            ev.Generation,
            "generations",
            {
                "gen": Col("gen", "int"),
                "generations": Col("generations", "int"),
                "best_score": Col("best_score", _F),
                "mean_score": Col("mean_score", _F),
                "distinct": Col("distinct_archs", "int"),
                "round": Col("round", "int"),
            },
        ),
        Map(ev.Leaderboard, "leaderboard", {"rows": Col("", "leader")}, many=True),
        Map(
            ev.CheckpointSaved,
            "artifacts",
            {
                "stage": Col("stage"),
                "step": Col("step", "int"),
                "path": Col("path"),
                "sha256": Col("sha256"),
            },
        ),
        Map(ev.RunFinished, "runs", {"result": Col("result", "json")}),
        Map(ev.RunStopped, "runs", {"stage": Col("message", "stopped")}),
        Map(ev.RunFailed, "runs", {"message": Col("message")}),
    )
}


def row(event: ev.Event) -> dict:
    """The stored columns of ``event`` (one row)."""
    return MAPS[type(event)].row(event)


def rows(event: ev.Event) -> list[dict]:
    """The stored rows of an event that spreads over several (Sampled, Leaderboard)."""
    return MAPS[type(event)].rows(event)
