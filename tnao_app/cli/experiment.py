"""``tnao experiment``: methods x seeds x budgets on one benchmark, as a table."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table as RichTable

from ..catalogue import METHODS
from ..errors import ConfigError, NotReadyError
from ..export import dumps
from .plain import plain
from .run import DATASET_HELP, dataset_name

if TYPE_CHECKING:
    # imported by the command only: it loads torch, which every other command (and the
    # run process the app starts, through this package) would pay for at start-up
    from .. import experiment as ex

console = Console()
err_console = Console(stderr=True)


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


def _median(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def _share(found: int, n: int, ci: tuple[float, float]) -> str:
    """'90% [74-97]': the share of seeds that found it and its Wilson 95% interval."""
    if not n:
        return "-"
    return f"{100 * found / n:.0f}% [{100 * ci[0]:.0f}-{100 * ci[1]:.0f}]"


def _mean_ci(mean: float, ci: tuple[float, float]) -> str:
    """'94.34 [94.31-94.36]': the mean and its bootstrap 95% interval."""
    if math.isnan(mean):
        return "nan"
    if any(math.isnan(v) for v in ci):
        return f"{mean:.2f}"
    return f"{mean:.2f} [{ci[0]:.2f}-{ci[1]:.2f}]"


def render(exp: ex.Experiment) -> RichTable:
    o = exp.optimum
    t = RichTable(
        title=f"{exp.benchmark} {exp.dataset}: {len(exp.seeds)} seeds",
        caption_justify="left",
        caption=(
            f"search signal {exp.signal}; reported {exp.report}"
            + (f" ({exp.note})" if exp.note else "")
            + f".\ntop-test = the table's best {exp.report} "
            f"({o['top_test']['value']:.4f}, row {', '.join(map(str, o['top_test']['rows']))})"
            f"; top-signal = its best {exp.signal} ({o['top_signal']['value']:.4f}, row "
            f"{', '.join(map(str, o['top_signal']['rows']))}).\ntop-test / top-signal: "
            "share of the seeds that queried that architecture within the budget, with its "
            "Wilson 95% interval; med q: median position of its first query, over the seeds "
            f"that found it within that budget; {exp.report}: mean over seeds of the returned "
            "architecture's value, a bootstrap 95% interval of that mean, and the std over "
            "seeds; s/run: seconds per run (anytime methods run once, at the largest budget)."
        ),
    )
    for col, just in (
        ("method", "left"),
        ("budget", "right"),
        (f"{exp.report} [CI]", "right"),
        ("std", "right"),
        ("top-test [CI]", "right"),
        ("med q", "right"),
        ("top-signal [CI]", "right"),
        ("med q ", "right"),
        ("s/run", "right"),
    ):
        t.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]  # literals
    last = None
    for r in exp.rows:
        if last is not None and r["method"] != last:
            t.add_section()
        last = r["method"]
        t.add_row(
            r["method"],
            str(r["budget"]),
            _mean_ci(r["test_mean"], r["test_ci"]),
            f"{r['test_std']:.2f}",
            _share(r["top_test_found"], r["seeds"], r["top_test_ci"]),
            _median(r["top_test_median_queries"]),
            _share(r["top_signal_found"], r["seeds"], r["top_signal_ci"]),
            _median(r["top_signal_median_queries"]),
            f"{r['seconds_mean']:.1f}",
        )
    return t


def experiment(
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
        0, "--workers", "-w", help="Worker processes (0 = one per CPU core)."
    ),
    config: Path = typer.Option(
        None, "--config", "-c", help="JSON file of method settings (config sections)."
    ),
    csv_path: Path = typer.Option(None, "--csv", help="Also write the summary as CSV here."),
    anytime_path: Path = typer.Option(
        None,
        "--anytime",
        help="Also write each run's best-so-far curve as CSV here "
        "(method,seed,query,best_signal,best_test).",
    ),
    plot_path: Path = typer.Option(
        None,
        "--plot",
        help="Also draw the mean best-so-far curves with 95% bands per method as PNG here.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
) -> None:
    """Compare search methods over seeds and budgets, as a table.

    Anytime methods run once per seed at the largest budget, read off their query trajectory.
    """
    dataset = dataset_name(dataset)
    from .. import experiment as ex
    from .. import experiment_report as report

    method_list = ex.parse_methods(methods)
    seed_list = ex.parse_seeds(seeds)
    budget_list = ex.parse_budgets(budgets)
    if workers < 0:
        raise ConfigError(f"--workers must be 0 (one per core) or more, got {workers}.")
    base = _read_config(config)
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise NotReadyError("--plot needs matplotlib (pip install 'matplotlib>=3.7').")
    if as_json:
        result = ex.run_experiment(
            benchmark,
            dataset,
            method_list,
            seed_list,
            budget_list,
            workers=workers or None,
            config=base,
        )
    else:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("runs", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = ex.run_experiment(
                benchmark,
                dataset,
                method_list,
                seed_list,
                budget_list,
                workers=workers or None,
                config=base,
                progress=progress,
            )
    if csv_path is not None:
        report.write_csv(result, csv_path)
    if anytime_path is not None:
        report.write_anytime(result, anytime_path)
    if plot_path is not None:
        report.write_plot(result, plot_path)
    if as_json:
        print(dumps(result.to_dict()))
    else:
        console.print(render(result))
        if csv_path is not None:
            console.print(plain(f"Summary written to {csv_path}"))
        if anytime_path is not None:
            console.print(plain(f"Anytime curves written to {anytime_path}"))
        if plot_path is not None:
            console.print(plain(f"Plot written to {plot_path}"))


def register(app: typer.Typer) -> None:
    app.command("experiment")(experiment)
