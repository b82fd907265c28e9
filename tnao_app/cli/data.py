"""``tnao data``: which benchmarks are ready, import official files, fetch them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table as RichTable

from .. import benchmarks
from ..export import dumps
from .plain import esc, plain

data_app = typer.Typer(help="Benchmark data: status, import, fetch.", no_args_is_help=True)
console = Console()


@data_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show each benchmark: ready or not, source, cache path, size, architectures."""
    rows = benchmarks.status()
    if as_json:
        print(dumps(rows))
        return
    t = RichTable(title="Benchmarks")
    for col in ("benchmark", "status", "archs", "datasets", "source", "MB"):
        t.add_column(col, overflow="fold")
    for r in rows:
        state = (
            "[green]ready[/]"
            if r["ready"]
            else "[red]error[/]"
            if r.get("error")
            else "[yellow]not ready[/]"
        )
        t.add_row(
            r["benchmark"],
            state,
            f"{r['archs']:,}" if r["ready"] else "",
            plain(", ".join(r["datasets"])),
            plain(r["source"]),  # the imported file's name
            f"{r['size_mb']:.1f}" if r["ready"] else "",
        )
    console.print(t)
    for r in rows:
        if r.get("error"):
            console.print(f"[red]{r['benchmark']}[/]: {esc(r['error'])}")
        elif not r["ready"]:
            console.print(f"[yellow]{r['benchmark']}[/]: {r['hint']}.")
    console.print(plain(f"Caches in {Path(rows[0]['cache']).parent}"))


@data_app.command("import")
def import_(
    path: Path = typer.Argument(..., help="Official file/folder or CSV table."),
    benchmark: str = typer.Option(..., "--benchmark", "-b", help="nb201 or nb101."),
) -> None:
    """Convert an official benchmark file (format detected) into the local cache."""
    with console.status(plain(f"Converting {path.name} ...")):
        out = benchmarks.import_file(path, benchmark)
    table = benchmarks.load(benchmark)
    console.print(
        f"[green]{benchmark} ready[/]: {len(table):,} architectures, datasets "
        f"{esc(', '.join(sorted(table.datasets)))}; cache {esc(out)}"
    )


@data_app.command("fetch")
def fetch(
    benchmark: str = typer.Argument(..., help="nb101 or nb201."),
    url: str = typer.Option(None, "--url", help="Download from this address instead."),
    dest: Path = typer.Option(None, "--dest", help="Folder for the download."),
    no_import: bool = typer.Option(False, "--no-import", help="Only download."),
    source: str = typer.Option(
        None,
        "--source",
        help="nb101: only108 (default) or full; nb201: nats-tss-simple (default), v1_1, v1_0.",
    ),
) -> None:
    """Download the official file (resumable, sha256-checked) and import it."""
    from ..benchmarks import fetch as fetch_mod

    # Percent only when the server gives a length (TaskProgressColumn is blank otherwise);
    # the bar pulses then, and the MB column still counts.
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    task = None

    def progress(done: int, total: int | None) -> None:
        nonlocal task
        if task is None:  # started on the first bytes: no empty bar for a refusal
            bar.start()
            task = bar.add_task(f"Downloading {benchmark}", total=total, completed=done)
        bar.update(task, completed=done, total=total)

    try:
        path = fetch_mod.fetch(
            benchmark, url=url, dest=dest, console=console, source=source, progress=progress
        )
    finally:
        if task is not None:
            bar.stop()
    console.print(plain(f"Downloaded {path}"))
    if not no_import:
        import_(path, benchmark)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
