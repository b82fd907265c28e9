"""``tnao experiment``: methods x seeds x budgets on one benchmark, as a table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable

from ..catalogue import METHODS
from ..errors import ConfigError, NotReadyError
from ..export import dumps
from .history import DB_HELP, _status, _store, _when
from .plain import plain
from .run import DATASET_HELP, MAX_FLOPS, MAX_PARAMS, dataset_name, goal_constraints

if TYPE_CHECKING:
    # imported by the command only: it loads torch, which every other command (and the
    # run process the app starts, through this package) would pay for at start-up
    from .. import experiment as ex

console = Console()
err_console = Console(stderr=True)


TOP = typer.Option(
    None,
    "--top",
    help="Also count the seeds that queried one of the table's K best cells by search "
    "signal: K (7) or a share of its answerable (under constraints: feasible) cells "
    "(0.02%); ties at the cut count. NB101 shows its best 0.02% (the paper's claim) "
    "unless told otherwise; none hides it.",
)


def _check_top(top: str | None) -> None:
    """A bad --top fails before any run starts."""
    if top is not None:
        from ..campaign.summary import parse_top

        parse_top(top)


def _read_config(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path} ({exc.strerror}).") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The config file {path} is not valid JSON ({exc}).") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(
            f"The config file {path} must hold a JSON object of sections, like "
            '{"baselines": {"population": 20}}.'
        )
    return data


def _metric_notes(exp: ex.Experiment) -> list[str]:
    from ..campaign.metrics import run_metric

    return [n for n in (run_metric(k).note for k in exp.metric_names()) if n]


def _caption(exp: ex.Experiment) -> str:
    o = exp.optimum
    return (
        f"search signal {exp.signal}; reported {exp.report}"
        + (f" ({exp.note})" if exp.note else "")
        + (
            f".\nConstraints {', '.join(o['constraints'])}: the targets are the best feasible cells"
            if o.get("constraints")
            else ""
        )
        + f".\ntop-test = the table's best {exp.report} "
        f"({o['top_test']['value']:.4f}, row {', '.join(map(str, o['top_test']['rows']))})"
        f"; top-signal = its best {exp.signal} ({o['top_signal']['value']:.4f}, row "
        f"{', '.join(map(str, o['top_signal']['rows']))}).\ntop-test / top-signal: "
        "share of the seeds that queried that architecture within the budget, with its "
        "Wilson 95% interval; med q: median position of its first query, over the seeds "
        f"that found it within that budget; {exp.report}: mean over seeds of the returned "
        "architecture's value, a bootstrap 95% interval of that mean, and the std over "
        "seeds; s/run: seconds per run (anytime methods run once, at the largest budget)."
        + _top_k_note(exp)
        + "".join(f"\n{note}" for note in _metric_notes(exp))
    )


def _top_k_note(exp: ex.Experiment) -> str:
    t = exp.optimum.get("top_k")
    if not t:
        return ""
    what = "cell" if t["cells"] == 1 else f"{t['cells']} cells"
    asked = t["target"]
    capped = (
        f" (the table has {t['k']} answerable cells, fewer than the {asked} asked for)"
        if not asked.endswith("%") and float(asked) > t["k"]
        else ""
    )
    return (
        f"\ntop {asked}: share of the seeds that queried any of the table's best "
        f"{what} by {exp.signal} ({exp.signal} >= {t['value']:.4f}), with its Wilson 95% "
        f"interval; med q as above.{capped}"
    )


def render(exp: ex.Experiment) -> RichTable:
    from ..experiment_report import table_cells

    title = f"{exp.benchmark} {exp.dataset}: {len(exp.seeds)} seeds"
    if exp.experiment_id:
        title += f" (experiment {exp.experiment_id}"
        title += f", {exp.done} of {exp.total} runs)" if exp.done < exp.total else ")"
    t = RichTable(title=title, caption_justify="left", caption=_caption(exp))
    head, body = table_cells(exp)
    for i, col in enumerate(head):
        t.add_column(col, justify="left" if i == 0 else "right", no_wrap=True)
    last = None
    for row in body:
        if last is not None and row[0] != last:
            t.add_section()
        last = row[0]
        t.add_row(*row)
    return t


def _progress_bar():
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def _given(ctx: typer.Context, *names: str) -> list[str]:
    """The options among ``names`` the user typed (not left at their defaults)."""
    # by name: typer ships its own copy of click, whose enum is not click's
    return [n for n in names if getattr(ctx.get_parameter_source(n), "name", "") == "COMMANDLINE"]


def _write_files(result, csv_path, anytime_path, plot_path, table_path) -> list[str]:
    from .. import experiment_report as report

    said = []
    for path, write, what in (
        (csv_path, report.write_csv, "Summary"),
        (table_path, report.write_table, "Table"),
        (anytime_path, report.write_anytime, "Anytime curves"),
        (plot_path, report.write_plot, "Plot"),
    ):
        if path is not None:
            write(result, path)
            said.append(f"{what} written to {path}")
    return said


def _check_outputs(plot_path: Path | None, table_path: Path | None) -> None:
    """File names are checked before any run, not after an hour of them."""
    from .. import experiment_report as report

    if table_path is not None:
        report.format_of(table_path)
    if plot_path is not None:
        if Path(plot_path).suffix.lower() not in (".png", ".svg"):
            raise ConfigError(f"Cannot draw {plot_path}; expected a name ending in .png or .svg.")
        if importlib.util.find_spec("matplotlib") is None:
            raise NotReadyError("--plot needs matplotlib (pip install 'matplotlib>=3.7').")


PLAN_OPTIONS = (
    "benchmark",
    "dataset",
    "methods",
    "seeds",
    "budgets",
    "config",
    "objectives",
    "max_params",
    "max_flops",
    "constraint",
)


def _with_goal(
    data: dict,
    objectives: str | None,
    max_params: float | None,
    max_flops: float | None,
    constraint: list[str] | None,
) -> dict:
    """The config sections with the goal options laid over the file's ``goal``."""
    goal = dict(data.get("goal", {}))
    if objectives is not None:
        from ..objectives import parse_objectives

        parse_objectives(objectives)  # one sentence for a bad spelling, before any loading
        goal["objectives"] = objectives
    limits = goal_constraints(max_params, max_flops, constraint)
    if limits is not None:
        goal["constraints"] = limits
    return {**data, "goal": goal} if goal else data


def experiment(
    ctx: typer.Context,
    benchmark: str = typer.Option("analog", "--benchmark", "-b", help="analog, nb201 or nb101."),
    dataset: str = typer.Option("cifar10", "--dataset", "-d", help=DATASET_HELP),
    methods: str = typer.Option(
        "tnao,random,evolution,nao,predictor",
        "--methods",
        "-m",
        help=f"Comma-separated methods of: {', '.join(METHODS)}.",
    ),
    seeds: str = typer.Option("0-9", "--seeds", "-s", help="Seeds: 0-29 or 0,1,5."),
    budgets: str = typer.Option("50,100,150,200", "--budgets", help="Query budgets: 50,100."),
    workers: int = typer.Option(
        0, "--workers", "-w", help="Worker processes or Ray CPUs (0 = one per CPU core)."
    ),
    executor: str = typer.Option(
        "local", "--executor", "-e", help="local (a process pool) or ray (Ray tasks)."
    ),
    address: str = typer.Option(
        None, "--address", help="A running Ray cluster (host:port); default: start one here."
    ),
    resume: str = typer.Option(
        None, "--resume", help="Finish the stored experiment ID: only its missing runs run."
    ),
    config: Path = typer.Option(
        None, "--config", "-c", help="JSON file of method settings (config sections)."
    ),
    csv_path: Path = typer.Option(None, "--csv", help="Also write the summary as CSV here."),
    table_path: Path = typer.Option(
        None, "--table", help="Also write the table here (.csv, .json, .md or .tex)."
    ),
    anytime_path: Path = typer.Option(
        None,
        "--anytime",
        help="Also write each run's best-so-far curve as CSV here "
        "(method,seed,query,best_signal,best_test).",
    ),
    plot_path: Path = typer.Option(
        None,
        "--plot",
        help="Also draw the mean best-so-far curves with 95% bands per method (.png or .svg).",
    ),
    objectives: str = typer.Option(
        None,
        "--objectives",
        help="Several objectives, '-' to minimise: valid,-flops. Adds each budget's mean "
        "hypervolume share of the table's true front, with its 95% interval.",
    ),
    max_params: float = MAX_PARAMS,
    max_flops: float = MAX_FLOPS,
    constraint: list[str] = typer.Option(
        None,
        "--constraint",
        help="METRIC<=VALUE on a cost column (repeatable). The targets (top-test, "
        "top-signal) are then the best cells that meet every limit.",
    ),
    top: str = TOP,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Compare search methods over seeds and budgets, as a table.

    Recorded in the history as its runs finish; a stopped or killed
    experiment continues with --resume ID.

    Anytime methods run once per seed, at the largest budget.
    """
    if ctx.invoked_subcommand is not None:
        return
    from .. import experiment as ex

    if workers < 0:
        raise ConfigError(f"--workers must be 0 (one per core) or more, got {workers}.")
    runner = ex.make(executor, workers or None, address)
    _check_outputs(plot_path, table_path)
    _check_top(top)
    if resume is not None:
        given = _given(ctx, *PLAN_OPTIONS)
        if given:
            flag = given[0].replace("_", "-")
            raise ConfigError(
                f"--resume runs the stored experiment's own plan; drop --{flag} "
                "(its methods, seeds, budgets, config and goal are kept with it)."
            )
        store = _store(db, must_exist=db is not None)
        call = lambda progress: ex.resume_experiment(  # noqa: E731
            resume, store, executor=runner, progress=progress, top=top
        )
    else:
        dataset = dataset_name(dataset)
        spec = ex.Spec(
            benchmark,
            dataset,
            ex.parse_methods(methods),
            ex.parse_seeds(seeds),
            ex.parse_budgets(budgets),
            _with_goal(_read_config(config), objectives, max_params, max_flops, constraint),
        )
        spec.check()  # before the history is touched: a bad input records nothing
        store = _store(db, must_exist=False)
        call = lambda progress: ex.run_experiment(  # noqa: E731
            spec.benchmark,
            spec.dataset,
            spec.methods,
            spec.seeds,
            spec.budgets,
            config=spec.config,
            progress=progress,
            history=store,
            executor=runner,
            top=top,
        )
    if as_json:
        result = call(None)
    else:
        with _progress_bar() as bar:
            task = bar.add_task("runs", total=None)
            result = call(lambda done, total: bar.update(task, completed=done, total=total))
    said = _write_files(result, csv_path, anytime_path, plot_path, table_path)
    if as_json:
        print(dumps(result.to_dict()))
        return
    console.print(render(result))
    for line in said:
        console.print(plain(line))


def show(
    experiment_id: str = typer.Argument(..., help="The experiment id (or a unique prefix)."),
    fmt: str = typer.Option(
        "table", "--format", "-f", help="table, csv, json, md or latex (default: the table)."
    ),
    out: Path = typer.Option(None, "--output", "-o", help="Write the table to FILE."),
    anytime_path: Path = typer.Option(None, "--anytime", help="Write the curves as CSV here."),
    plot_path: Path = typer.Option(None, "--plot", help="Draw the curves here (.png or .svg)."),
    top: str = TOP,
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Print a stored experiment's table again (the runs it has, if unfinished)."""
    from .. import experiment_report as report
    from ..campaign import stored

    if fmt != "table" and fmt not in report.TABLE_FORMATS:
        raise ConfigError(
            f"Format '{fmt}' is unknown; expected table, {', '.join(report.TABLE_FORMATS)}."
        )
    _check_outputs(plot_path, None)
    _check_top(top)
    row, result = stored.load(_store(db), experiment_id, top)
    said = _write_files(result, None, anytime_path, plot_path, None)
    if out is not None:
        report.write_table(result, out, None if fmt == "table" else fmt)
        said.append(f"Table written to {out}")
    elif fmt != "table":
        print(report.table_text(result, fmt), end="")
        return
    console.print(render(result))
    if row["status"] != "finished":
        console.print(
            plain(
                f"Experiment {row['id']} is {row['status']} with {row['done']} of "
                f"{row['total']} runs; 'tnao experiment --resume {row['id']}' finishes it."
            )
        )
    for line in said:
        console.print(plain(line))


def experiments(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List the stored experiments, newest first."""
    store = _store(db)
    rows = store.list_experiments()
    if as_json:
        print(dumps([_listing(r) for r in rows]))
        return
    if not rows:
        console.print(plain("No experiments yet; 'tnao experiment' runs one."))
        return
    t = RichTable(title=f"Experiments in {store.path}")
    for col in ("id", "status", "benchmark", "dataset", "methods", "seeds", "budgets", "runs"):
        t.add_column(col, no_wrap=col != "methods")
    t.add_column("created", no_wrap=True)
    for r in rows:
        x = _listing(r)
        t.add_row(
            x["id"],
            _status(x["status"]),
            x["benchmark"],
            x["dataset"],
            ",".join(x["methods"]),
            str(x["seeds"]),
            ",".join(map(str, x["budgets"])),
            f"{x['runs_done']}/{x['runs_total']}",
            _when(x["created_at"]),
        )
    console.print(t)


def _listing(r: dict) -> dict:
    spec = r["spec"]
    return {
        "id": r["id"],
        "status": r["status"],
        "benchmark": r["benchmark"],
        "dataset": r["dataset"],
        "methods": spec["methods"],
        "seeds": len(spec["seeds"]),
        "budgets": spec["budgets"],
        "runs_done": r["done"],
        "runs_total": r["total"],
        "executor": r["executor"],
        "resumes": r["resumes"],
        "created_at": r["created_at"],
        "finished_at": r["finished_at"],
        "message": r["message"],
    }


def register(app: typer.Typer) -> None:
    group = typer.Typer(invoke_without_command=True, no_args_is_help=False, add_completion=False)
    group.callback()(experiment)
    group.command("show")(show)
    app.add_typer(group, name="experiment")
    # a group too, though it has no subcommand: typer lists groups after commands, and
    # this keeps `experiments` below `experiment` in the help
    listing = typer.Typer(invoke_without_command=True, no_args_is_help=False, add_completion=False)
    listing.callback()(experiments)
    app.add_typer(listing, name="experiments")
