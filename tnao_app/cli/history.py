"""``tnao history``, ``show``, ``export``, ``delete``, ``resume``: the run history.

Every command takes ``--db PATH`` (default: the history in TNAO_HOME). Reading commands
refuse a ``--db`` file that does not exist rather than creating an empty history.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text as RichText

from .. import events as ev
from ..benchmarks import describe, legend, module
from ..errors import ConfigError
from ..export import dumps
from .plain import esc, plain
from .run import fmt_acc, fmt_pct, fmt_score, print_goal, stopped
from .signals import StopOnSignals

console = Console()
err_console = Console(stderr=True)

DB_HELP = "Run-history database (default: history.db in TNAO_HOME)."
STATUS_STYLE = {
    "finished": "green",
    "running": "cyan",
    "created": "cyan",
    "failed": "red",
    "stopped": "yellow",
    "interrupted": "magenta",
}


def _store(db: Path | None, must_exist: bool = True):
    from ..storage import Store

    # The default history may simply not exist yet (no run so far): open it (empty).
    return Store(db, create=not (must_exist and db is not None))


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _num(v, fmt: str = "{:.2f}") -> str:
    return "" if v is None else fmt.format(v)


def _status(s: str) -> RichText:
    return plain(s, style=STATUS_STYLE.get(s, "white"))


def _summary_value(v) -> str:
    """A stage-summary value, short: floats to 4 significant digits (losses, taus,
    accuracies alike), None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _query_counts(store) -> dict[str, int]:
    """Run id -> queries recorded so far (the runs row has the total only once finished)."""
    rows = store.db.execute("SELECT run_id, MAX(n) FROM queries GROUP BY run_id").fetchall()
    return {rid: int(n) for rid, n in rows if n is not None}


def history(
    benchmark: str = typer.Option(None, "--benchmark", "-b", help="Only this benchmark."),
    status: str = typer.Option(None, "--status", "-s", help="Only runs with this status."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List recorded runs, newest first."""
    from ..storage import STATUSES

    if status and status not in STATUSES:
        raise ConfigError(f"Status '{status}' is unknown; expected one of {', '.join(STATUSES)}.")
    if benchmark:
        module(benchmark)  # an unknown name is a mistake, not an empty history
    store = _store(db)
    runs = store.list_runs(benchmark=benchmark, status=status)
    counts = _query_counts(store)
    for r in runs:  # a stopped or running run has no total yet: the queries made so far
        if r["n_queries"] is None and r["id"] in counts:
            r["n_queries"] = counts[r["id"]]
    if as_json:
        keep = (
            "id",
            "name",
            "benchmark",
            "dataset",
            "method",
            "seed",
            "status",
            "created_at",
            "finished_at",
            "n_queries",
            "best_arch",
            "best_valid",
            "best_test",
            "resumes",
        )
        print(dumps([{k: r[k] for k in keep} for r in runs]))
        return
    if not runs:
        console.print(
            "No runs recorded yet."
            if not (benchmark or status)
            else "No run matches these filters."
        )
        return
    t = RichTable(
        title=f"Runs ({len(runs)}); test = reported accuracy of the best found",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    named = any(r["name"] for r in runs)
    cols = [
        "id",
        *(["name"] if named else []),
        "benchmark",
        "dataset",
        "method",
        "seed",
        "status",
        "started",
        "queries",
        "test",
    ]
    rows: list[list[RichText | str]] = [
        [
            plain(r["id"]),
            *([plain(r["name"])] if named else []),
            plain(r["benchmark"]),
            plain(r["dataset"]),
            plain(r["method"]),
            str(r["seed"]),
            _status(r["status"]),
            _when(r["started_at"] or r["created_at"])[5:16],
            _num(r["n_queries"], "{}"),
            fmt_acc(r["best_test"]),
        ]
        for r in runs
    ]
    # The architecture string (90 characters for NB201) is in `tnao show` and the JSON;
    # here each column is as wide as its widest cell, so ids are never cut.
    for j, col in enumerate(cols):
        width = max([len(col)] + [plain(row[j]).cell_len for row in rows])
        t.add_column(
            col,
            no_wrap=True,
            min_width=width,
            justify="right" if col in ("seed", "queries", "test") else "left",
        )
    for row in rows:
        t.add_row(*row)
    console.print(t)


def show(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Show one run: config, stage timeline, training and search summary, leaderboard."""
    store = _store(db)
    r = store.get_run(run)
    rid = r["id"]
    stages, board = store.stages(rid), store.leaderboard(rid)
    epochs, gens = store.epochs(rid), store.generations(rid)
    if as_json:
        # Full precision; the two ranks named apart as in the exports.
        from ..export import public_result, public_rows

        run_doc = dict(r, result=public_result(r["result"]))
        print(
            dumps(
                {
                    "run": run_doc,
                    "stages": stages,
                    "leaderboard": public_rows(board),
                    "epochs": epochs,
                    "generations": gens,
                }
            )
        )
        return
    name = f" {r['name']}" if r["name"] else ""
    head = RichText.assemble(
        plain(rid, style="bold"),
        plain(f"{name}  {r['benchmark']}/{r['dataset']}  {r['method']}  seed {r['seed']}  "),
        _status(r["status"]),
    )
    console.print(head)
    console.print(
        f"created {_when(r['created_at'])}  started {_when(r['started_at'])}  "
        f"ended {_when(r['finished_at'])}  tnao {r['tnao_version']}  "
        f"device {r['device']}  resumes {r['resumes']}"
    )
    if r["message"]:
        console.print(plain(f"message: {r['message']}"), highlight=False)
    best = (r["result"] or {}).get("best")
    if isinstance(best, dict) and best.get("arch"):
        # The same numbers as `tnao run` prints at the end of a run.
        res = r["result"]
        rank = best.get("table_rank", best.get("rank"))
        pct = fmt_pct(best.get("percentile"), "n/a")
        where = "" if rank is None else f"; rank {rank:,} in the table (percentile {pct})"
        optimum = (res.get("optimum") or {}).get("test")
        console.print(
            f"best: {res.get('report', 'test')} {fmt_acc(best.get('test'), 'n/a')}{where}"
            + ("" if optimum is None else f"; table optimum {fmt_acc(optimum)}")
            + f"; {res.get('queries')}"
            + (f" of {res['budget']}" if res.get("budget") else "")
            + " queries",
            highlight=False,
        )
        print_goal(res)  # constraints and their optimum, the front and its hypervolume
    cfg = RichTable(title="Config", show_header=False)
    cfg.add_column("section")
    cfg.add_column("values", overflow="fold")
    for section, values in (r["config"] or {}).items():
        cfg.add_row(plain(section), plain(", ".join(f"{k}={v}" for k, v in values.items())))
    console.print(cfg)
    if stages:
        t = RichTable(title="Stages")
        for col in ("round", "stage", "status", "started", "seconds", "summary"):
            t.add_column(col, overflow="fold")
        for s in stages:
            t.add_row(
                str(int(s["round"] or 0) + 1),  # 1-based, as the app and tnao run count
                s["stage"],
                _status(s["status"]),
                _when(s["started_at"]),
                _num(s["seconds"], "{:.1f}"),
                plain(
                    ", ".join(f"{k}={_summary_value(v)}" for k, v in list(s["summary"].items())[:6])
                ),
            )
        console.print(t)
    if epochs:
        last = epochs[-1]
        tau = "" if last["val_tau"] is None else f", val tau {last['val_tau']:.3f}"
        console.print(
            f"training: {len(epochs)} epochs recorded; last: loss "
            f"{_num(last['loss_total'], '{:.4f}')}{tau}"
        )
    if gens:
        last = gens[-1]
        console.print(
            f"search: {len(gens)} generations recorded; last: best score "
            f"{_num(last['best_score'], '{:.4f}')}, distinct {last['distinct_archs']}"
        )
    result = r["result"] or {}
    if board:
        # Accuracies and percentiles formatted as `tnao run` prints them.
        t = RichTable(
            title="Leaderboard",
            caption=f"valid = {result.get('signal', 'search signal')}, test = "
            f"{result.get('report', 'reported metric')}; percentile of "
            "test in the whole table (100% = its best); predicted = the model's score "
            "(unitless, higher = better)"
            + (f"\n{legend(r['benchmark'])}" if legend(r["benchmark"]) else ""),
        )
        for col in ("#", "arch", "predicted", "valid", "test", "percentile"):
            t.add_column(col, overflow="fold", justify="left" if col == "arch" else "right")
        for b in board:
            t.add_row(
                str(b["rank"]),
                plain(describe(r["benchmark"], b["arch"])),
                fmt_score(b["predicted"]),
                fmt_acc(b["valid"]),
                fmt_acc(b["test"]),
                fmt_pct(b["percentile"]),
            )
        console.print(t)
    else:
        console.print("No leaderboard yet.")


def export(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    fmt: str = typer.Option("json", "--format", "-f", help="json, csv, arch or torch."),
    top: int = typer.Option(None, "--top", "-k", help="Only the best K (torch: default 1)."),
    out: Path = typer.Option(None, "--output", "-o", help="Write to FILE (default: stdout)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --output file."),
    front: bool = typer.Option(
        False, "--front", help="The Pareto front of a run with several objectives instead."
    ),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Export a run's leaderboard (json, csv), architectures (arch) or network (torch)."""
    from ..export import export_front, export_run

    if out is not None and out.expanduser().is_file() and not force:
        raise ConfigError(f"{out} exists; add --force to overwrite it.")
    store = _store(db)
    if front:
        text = export_front(store, run, fmt, out=out)
    else:
        text = export_run(store, run, fmt, top=top, out=out)
    if out is None:
        print(text, end="")
    else:
        err_console.print(
            plain(f"Wrote the {fmt} export of run {store.resolve(run)} to {out}."),
            highlight=False,
            soft_wrap=True,  # a path is never broken across lines
        )


def delete(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (asked only on a terminal)."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Delete a run, its records and its checkpoint files."""
    store = _store(db)
    rid = store.resolve(run)
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete run {rid}?"):
        raise typer.Exit(1)
    store.delete_run(rid)
    console.print(f"Deleted run {rid}.")


class _Printer:
    """A quiet console listener for a resumed run: stage lines and a few epoch lines."""

    def __call__(self, e: ev.Event) -> None:
        if isinstance(e, ev.RunStarted):
            err_console.print(
                f"Resuming run {e.run_id} ({e.benchmark}/{e.dataset}, "
                f"{e.method}, seed {e.seed}) on {e.device}",
                markup=False,
                highlight=False,
            )
        elif isinstance(e, ev.StageStarted):
            err_console.print(f"  {e.stage} (round {e.round + 1}) ...")
        elif isinstance(e, ev.StageFinished):
            err_console.print(f"  {e.stage} done in {e.seconds:.1f} s")
        elif isinstance(e, ev.RunFailed):
            err_console.print(f"failed: {e.message}", markup=False, highlight=False)


def resume(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Continue a stopped, failed or interrupted run from its last checkpoint."""
    from ..errors import Stopped
    from ..runs.session import resume_run

    store = _store(db)
    rid = store.resolve(run)
    # SIGINT, SIGTERM, SIGHUP: stop at the next step, recorded as stopped (resumable)
    with StopOnSignals(err_console) as stop:
        try:
            result = resume_run(rid, store, listeners=[_Printer()], should_stop=stop.should_stop)
        except Stopped:
            raise stopped(stop, rid) from None
        except KeyboardInterrupt:
            raise stopped(stop, rid, aborted=True) from None
    if as_json:
        from ..export import public_result

        print(dumps(public_result(result)))
        return
    best = result.get("best", {})
    arch = describe(result.get("benchmark", ""), best.get("arch") or "")  # NB101: compact
    console.print(
        f"Run {rid} finished: best {esc(arch)} valid "
        f"{fmt_acc(best.get('valid'), 'n/a')} test {fmt_acc(best.get('test'), 'n/a')} "
        f"(rank {best.get('rank')} in the table, percentile "
        f"{fmt_pct(best.get('percentile'), 'n/a')}), {result.get('queries')} queries.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("history")(history)
    app.command("show")(show)
    app.command("export")(export)
    app.command("delete")(delete)
    app.command("resume")(resume)
