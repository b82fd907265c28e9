"""``tnao run``: one search run, headless, with live progress; ``--json`` for scripts.

The run is recorded in the history database through ``tnao_app.runs.session.start_run``
(every event and checkpoint, so ``tnao resume`` can continue it).
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import events as ev
from ..benchmarks import describe, legend
from ..catalogue import METHODS
from ..config import Config
from ..errors import ConfigError, Stopped
from ..events import Event
from ..export import dumps, public_result
from ..objectives import best_first, parse_constraints, parse_objectives
from ..stats import cut
from .signals import StopOnSignals

console = Console(stderr=True)
out = Console()

# Official names (NAS-Bench-201 / NATS-Bench spell them so) -> the benchmarks' own names.
# cifar10 searches on cifar10-valid's validation split, so both names mean that dataset.
DATASET_ALIASES = {"cifar10-valid": "cifar10", "imagenet16-120": "imagenet16"}
DATASET_HELP = (
    "cifar10, cifar100, imagenet16 (analog: cifar10, cifar10-ptq, ...); the "
    "official names ImageNet16-120 and cifar10-valid work too."
)

#: the cost limits, shared by ``tnao run`` and ``tnao experiment``
MAX_PARAMS = typer.Option(
    None, "--max-params", help="Only cells with at most this many parameters (M)."
)
MAX_FLOPS = typer.Option(None, "--max-flops", help="Only cells with at most this many FLOPs (M).")


def dataset_name(name: str) -> str:
    """The benchmarks' own name for dataset ``name``: case-insensitive, official names as
    aliases. Unknown names pass through: the benchmark's table rejects them in one
    sentence listing the datasets it has."""
    key = name.strip().lower()
    return DATASET_ALIASES.get(key, key)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt_acc(v, missing: str = "") -> str:
    """An accuracy (in %) as the CLI prints it: 2 decimals, as the benchmarks' papers do."""
    return missing if _missing(v) else f"{v:.2f}"


def fmt_pct(v, missing: str = "") -> str:
    """A percentile (100 = the table's best) as a percent, cut to 2 decimals (``stats.cut``)."""
    return missing if _missing(v) else f"{cut(v, 2):.2f}%"


def fmt_score(v, missing: str = "") -> str:
    """A predictor score (unitless): 3 decimals."""
    return missing if _missing(v) else f"{v:.3f}"


def goal_constraints(
    max_params: float | None, max_flops: float | None, constraint: list[str] | None
) -> str | None:
    """``goal.constraints`` from ``--max-params``, ``--max-flops`` and ``--constraint``
    (each checked: METRIC<=VALUE with a finite number); None when none is given."""
    parts = [
        f"{name}<={value!r}"
        for name, value in (("params", max_params), ("flops", max_flops))
        if value is not None
    ]
    for c in constraint or []:
        if "," in c:
            raise ConfigError(
                f"--constraint '{c}' holds a comma; expected one METRIC<=VALUE per "
                "--constraint (repeat the option for more)."
            )
        parts.append(c)
    if not parts:
        return None
    text = ",".join(parts)
    parse_constraints(text)  # one sentence for the first bad entry, before any loading
    return text


def build_config(config_file: Path | None, overrides: dict[str, dict[str, object]]) -> Config:
    """A config from an optional JSON file, then the command-line overrides (not None)."""
    data: dict = {}
    if config_file is not None:
        try:
            data = json.loads(Path(config_file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"Config file {config_file} does not exist.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"Config file {config_file} is not valid JSON ({exc}).") from None
        if not isinstance(data, dict):
            raise ConfigError(f"Config file {config_file} must hold a JSON object of sections.")
    cfg = Config.from_dict(data)
    for section, values in overrides.items():
        for key, value in values.items():
            if value is not None:
                setattr(getattr(cfg, section), key, value)
    cfg.validate()
    parse_constraints(cfg.goal.constraints)  # their spelling; the table checks the names
    if cfg.goal.objectives.strip():
        parse_objectives(cfg.goal.objectives)
    return cfg


class LiveView:
    """Renders run events as a rich progress display (stage bar + one status line)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[stage]:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("", total=1, stage="", info="")
        self.info = ""
        self.rounds = 1

    def __call__(self, e: Event) -> None:
        p, t = self.progress, self.task
        if isinstance(e, ev.RunStarted):
            p.start()
            self.rounds = e.plan.rounds if e.plan else 1
            console.print(
                f"[bold]{e.method}[/] on {e.benchmark}/{e.dataset}, seed {e.seed},"
                f" device {e.device}",
                markup=True,
                highlight=False,
            )
        elif isinstance(e, ev.StageStarted):
            self.rounds = e.rounds or self.rounds
            where = f"{e.stage} {e.round + 1}/{self.rounds}" if self.rounds > 1 else e.stage
            p.update(t, stage=where, completed=0, total=1, info=self.info)
        elif isinstance(e, ev.Progress):
            p.update(t, completed=e.done, total=e.total)
        elif isinstance(e, ev.EpochEnded):
            tau = "" if math.isnan(e.val_tau) else f" tau {e.val_tau:.3f}"
            self.info = f"epoch {e.epoch}/{e.epochs} loss {e.loss_total:.4f}{tau}"
            p.update(t, info=self.info)
        elif isinstance(e, ev.Generation):
            self.info = f"gen {e.gen}/{e.generations} best {e.best_score:.3f} distinct {e.distinct}"
            p.update(t, completed=e.gen, total=e.generations, info=self.info)
        elif isinstance(e, ev.Queried):
            p.update(t, info=f"{self.info}  queries {e.n_queries}/{e.budget}")
        elif isinstance(e, (ev.RunFinished, ev.RunStopped, ev.RunFailed)):
            p.stop()


def print_result(res: dict) -> None:
    b = res["best"]
    arch = describe(res.get("benchmark", ""), b["arch"])  # NB101: compact, not JSON
    out.print(f"[bold green]Found[/] {arch}", soft_wrap=True, highlight=False)
    if legend(res.get("benchmark", "")):
        out.print(f"  ({legend(res['benchmark'])})", highlight=False)
    # The two labels are padded to one width so the values line up.
    labels = (f"{res['signal']} (search signal):", f"{res['report']} (reported):")
    width = max(map(len, labels))
    out.print(f"  {labels[0]:<{width}} {fmt_acc(b['valid'], 'n/a')}")
    out.print(f"  {labels[1]:<{width}} {fmt_acc(b['test'], 'n/a')}")
    rank = b.get("table_rank", b.get("rank"))
    out.print(
        f"  rank {rank:,} in the table (percentile {fmt_pct(b['percentile'], 'n/a')}); "
        f"table optimum {fmt_acc(res['optimum']['test'], 'n/a')}"
    )
    out.print(
        f"  queries used: {res['queries']} of {res['budget']}; {res['seconds']:.1f} s "
        f"on {res['device']}" + (f"; run {res['run_id']}" if res.get("run_id") else "")
    )
    if res.get("coverage"):
        c = res["coverage"]
        out.print(
            f"  coverage: the table answers {c['answerable']:,} of the space's "
            f"{c['space']:,} cells ({fmt_pct(100 * c['answerable'] / c['space'], 'n/a')}); "
            "every query was one of them"
        )
    if res.get("note"):
        out.print(f"  note: {res['note']}")
    print_goal(res)


def print_goal(res: dict) -> None:
    """The constraints with the table's constrained optimum, and the Pareto front."""
    if res.get("constraints"):
        co = res["constrained_optimum"]
        found = "queried" if co["found"] else "not queried"
        out.print(
            f"  constraints {', '.join(res['constraints'])}: {res['feasible_cells']:,} "
            f"feasible cells; constrained optimum: signal {fmt_acc(co.get('signal'), 'n/a')}, "
            f"test {fmt_acc(co['test'], 'n/a')} ({found}); best feasible test "
            f"{fmt_acc(co.get('best_feasible_test'), 'n/a')}",
            highlight=False,
        )
    if res.get("front") is None:
        return
    from rich.table import Table as RichTable

    objs = res["objectives"]
    t = RichTable(title=f"Pareto front of the queried cells ({len(res['front'])})")
    t.add_column("architecture", overflow="fold")
    for o in objs:
        t.add_column(f"{o['name']} ({o['goal']})", justify="right")
    for e in best_first(objs, res["front"]):
        t.add_row(
            describe(res.get("benchmark", ""), e["arch"]),
            *(f"{e[o['name']]:.4g}" for o in objs),
        )
    out.print(t)
    none = (
        "; no queried cell passes the reference point (the true front's worst value of each "
        "objective, less 10% of its range) in every objective"
        if res["hypervolume_share"] == 0
        else ""
    )
    out.print(
        f"  hypervolume share {100 * res['hypervolume_share']:.2f}% of the table's true "
        f"front ({res['true_front_size']} cells){none}",
        highlight=False,
    )


def execute(
    cfg: Config, db: Path | None, listeners: list, should_stop: Callable[[], bool] = lambda: False
) -> dict:
    from ..runs.session import start_run
    from ..storage import Store

    # torch's import leaves about a million objects that live as long as the process:
    # frozen, the garbage collector no longer walks them at each of the run's collections
    gc.freeze()
    return start_run(cfg, lambda: Store(db), listeners=listeners, should_stop=should_stop)


def stopped(stop: StopOnSignals, run_id: str, aborted: bool = False) -> typer.Exit:
    """Say how a run a signal stopped ended and how to go on; the exit to raise."""
    how = "aborted by a second ^C" if aborted else f"stopped on {stop.name or 'SIGINT'}"
    where = f"Run {run_id}" if run_id else "The run"
    go_on = f"; continue it with 'tnao resume {run_id}'" if run_id else ""
    stop.say(f"{where} {how} at its last checkpoint{go_on}.")
    return typer.Exit(stop.exit_code)


#: the defaults the help shows (the options default to None: "not given, keep the config's")
_D = Config()


def run(
    benchmark: str = typer.Option(
        None, "--benchmark", "-b", help=f"analog, nb201 or nb101 (default: {_D.run.benchmark})."
    ),
    dataset: str = typer.Option(
        None, "--dataset", "-d", help=f"{DATASET_HELP} (default: {_D.run.dataset})"
    ),
    method: str = typer.Option(
        None,
        "--method",
        "-m",
        help=f"Search method: {', '.join(METHODS)} (default: {_D.run.method}).",
    ),
    budget: int = typer.Option(
        None, "--budget", help=f"Unique benchmark queries allowed (default: {_D.run.budget})."
    ),
    seed: int = typer.Option(
        None, "--seed", help=f"Seed: same seed, same result (default: {_D.run.seed})."
    ),
    device: str = typer.Option(
        None, "--device", help=f"auto, cpu or cuda (default: {_D.run.device})."
    ),
    samples: int = typer.Option(
        None,
        "--samples",
        help="Architectures sampled for training "
        "(default and 0: automatic, 20; 30 where the search signal is a 12-epoch "
        "proxy, as on NB201 cifar100 / imagenet16).",
    ),
    epochs: int = typer.Option(
        None, "--epochs", help=f"Training epochs of the first round (default: {_D.train.epochs})."
    ),
    particles: int = typer.Option(
        None, "--particles", help=f"CSO swarm size, even (default: {_D.search.particles})."
    ),
    generations: int = typer.Option(
        None,
        "--generations",
        help=f"CSO generations per round (default: {_D.search.generations}).",
    ),
    rounds: int = typer.Option(
        None,
        "--rounds",
        help="Most search rounds, counted from 1: 1 = a single pass; the budget usually ends "
        f"a run first (default: {_D.search.rounds}).",
    ),
    objectives: str = typer.Option(
        None,
        "--objectives",
        help="Several objectives, '-' to minimise: valid,-flops (valid = the search signal; "
        "params, flops or any metric column). Prints the Pareto front and its hypervolume "
        "share of the table's true front.",
    ),
    max_params: float = MAX_PARAMS,
    max_flops: float = MAX_FLOPS,
    constraint: list[str] = typer.Option(
        None,
        "--constraint",
        help="METRIC<=VALUE on a cost column (repeatable): cifar10/params<=0.5.",
    ),
    config_file: Path = typer.Option(None, "--config", help="JSON config (sections)."),
    db: Path = typer.Option(
        None, "--db", help="Run-history database (default: history.db in TNAO_HOME)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON only."),
) -> None:
    """Run one architecture search and print what it found."""
    cfg = build_config(
        config_file,
        {
            "run": {
                "benchmark": benchmark,
                "dataset": dataset,
                "method": method,
                "budget": budget,
                "seed": seed,
                "device": device,
            },
            "sample": {"n_labelled": samples},
            "train": {"epochs": epochs},
            "search": {"particles": particles, "generations": generations, "rounds": rounds},
            "goal": {
                "objectives": objectives,
                "constraints": goal_constraints(max_params, max_flops, constraint),
            },
        },
    )
    cfg.run.dataset = dataset_name(cfg.run.dataset)  # from --dataset or the config file
    run_id = {"id": ""}

    def started(e: Event) -> None:
        if isinstance(e, ev.RunStarted):
            run_id["id"] = e.run_id

    listeners = [started] + ([] if as_json else [LiveView()])
    with StopOnSignals(console) as stop:
        try:
            res = execute(cfg, db, listeners, should_stop=stop.should_stop)
        except Stopped:
            raise stopped(stop, run_id["id"]) from None
        except KeyboardInterrupt:
            raise stopped(stop, run_id["id"], aborted=True) from None
    if as_json:
        print(dumps(public_result(res)))
    else:
        print_result(res)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
