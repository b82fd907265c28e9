"""What the CLI timing scripts share: a temporary TNAO_HOME with a table imported, and one
`tnao` command timed as a user runs it (process start, imports and history included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TNAO = [sys.executable, "-c", "from tnao_app.cli import main; main()"]


def home_with(csv: Path, benchmark: str, prefix: str) -> tuple[Path, dict]:
    """A new TNAO_HOME with ``csv`` imported as ``benchmark``, and the environment for it."""
    if not csv.exists():
        sys.exit(f"{csv} is missing; this benchmark needs ../shared/data.")
    home = Path(tempfile.mkdtemp(prefix=prefix))
    env = {**os.environ, "TNAO_HOME": str(home)}
    cmd = [*TNAO, "data", "import", str(csv), "--benchmark", benchmark]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return home, env


def timed(args: list[str], env: dict) -> tuple[float, dict]:
    """Seconds of ``tnao ARGS --json`` and its printed result (exits on a failed run)."""
    t0 = time.perf_counter()
    out = subprocess.run([*TNAO, *args], env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode:
        sys.exit(out.stderr)
    return dt, json.loads(out.stdout)
