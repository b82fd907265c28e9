"""The engine never imports the UI: importing every engine module leaves Textual out."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tnao_app


def _engine_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tnao_app.__path__, prefix="tnao_app."):
        if info.name.startswith(("tnao_app.screens", "tnao_app.storage")):
            continue
        names.append(info.name)
    return names


def test_engine_modules_do_not_import_textual() -> None:
    mods = _engine_modules()
    assert "tnao_app.benchmarks.nb201" in mods and "tnao_app.cli" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"engine imported textual: {out.stdout.strip()}"


def test_screens_and_storage_install_as_subpackages() -> None:
    import tnao_app.screens
    import tnao_app.storage

    assert tnao_app.screens.__name__ == "tnao_app.screens"
    assert tnao_app.storage.__name__ == "tnao_app.storage"
    # Nothing claims the global names of the user's top-level folders.
    for name in ("screens", "storage"):
        spec = subprocess.run(
            [sys.executable, "-c", f"import importlib.util as u; print(u.find_spec('{name}'))"],
            capture_output=True,
            text=True,
            cwd="/",
        )
        assert spec.stdout.strip() == "None"
