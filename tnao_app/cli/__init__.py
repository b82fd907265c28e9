"""The ``tnao`` command: headless runs, history, data; no arguments opens the TUI.

Every user error is a ``TnaoError``: ``main()`` prints its one sentence and exits
non-zero, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.text import Text

from ..errors import TnaoError
from .plain import plain
from .signals import Interrupted, default_signals, interruptible

app = typer.Typer(
    name="tnao",
    help="Two-stage Neural Architecture Optimization on NAS-Bench-101/201.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

# Each module adds its commands to `app` with register(app).
_MODULES = ("data", "run", "experiment", "history")


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"tnao {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_version
    ),
) -> None:
    """With no command, open the guided terminal app (tnao-tui)."""
    if ctx.invoked_subcommand is None:
        # Imported here only: the engine never imports the UI at module level.
        tui = importlib.import_module("tnao_app.screens.app")
        with default_signals():  # as tnao-tui: the app handles its keys and its end
            tui.main()


try:
    for _name in _MODULES:  # the imports take a moment: a ^C in it shows no traceback
        importlib.import_module(f"{__name__}.{_name}").register(app)
except KeyboardInterrupt:
    sys.stderr.write("Interrupted.\n")
    raise SystemExit(130) from None


def _flags_take_no_value() -> None:
    """typer prints ``<bool>`` after every flag (``--help <bool>``, ``--json <bool>``),
    as if it took a value: show nothing there for flags."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()


def _widen_piped_output() -> None:
    """Rich cuts tables at 80 columns when stdout is not a terminal; piped output goes to
    grep and scripts, which need whole values."""
    for name in _MODULES:
        mod = sys.modules.get(f"{__name__}.{name}")
        for attr in ("console", "out"):
            c = getattr(mod, attr, None)
            if isinstance(c, Console) and not c.is_terminal:
                c.width = 200


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _widen_piped_output()
    try:
        with interruptible():  # a signal ends the command cleanly (a run: at its next step)
            app(args=argv, standalone_mode=True)
    except Interrupted as exc:
        err_console.print(exc.message)
        sys.exit(exc.exit_code)
    except TnaoError as exc:
        # The sentence quotes user text (ids, file names, cells): never read as markup.
        err_console.print(
            Text("Error:", style="bold red"), plain(exc), highlight=False, soft_wrap=True
        )
        sys.exit(exc.exit_code)
    except OSError as exc:
        # The last resort for a file no command translated (a disk filling up under a
        # run): one sentence with the file and what to do, not a traceback.
        err_console.print(Text("Error:", style="bold red"), plain(os_error(exc)), soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)


def os_error(exc: OSError) -> str:
    """The sentence for an ``OSError`` that reached the top: the file and the reason, and
    what to do where the disk or its permissions are the cause."""
    from pathlib import Path

    from .. import paths

    if exc.errno in paths.WRITE_ERRNOS:
        where = Path(exc.filename) if exc.filename else paths.root()
        return str(paths.write_error(where, exc, "The file" if exc.filename else ""))
    what = f"The file {exc.filename}" if exc.filename else "A file"
    return f"{what} could not be used ({exc.strerror or exc})."
