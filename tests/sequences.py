"""The query sequences that pin each method's behaviour across refactors.

``python tests/sequences.py`` records them into ``tests/data/query_sequences.json``;
``tests/test_sequences.py`` replays every case and asserts the same architectures are
queried in the same order with the same signals. The cases without a tag were recorded
before the driver restructure (TNAO and NAO with the whole model trained per run,
``train.stage1 = "joint"``, the default then), so a change that alters any method's
choices fails the test; the "cached" cases were recorded when stage 1 became cached. A
deliberate change of behaviour records the new cases (``python tests/sequences.py``
adds the missing ones; ``--all`` records every case again) in its own commit and says
why.

Small configs on the embedded analog table (always installed), so the whole set runs in
seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FILE = Path(__file__).with_name("data") / "query_sequences.json"

TINY = {
    "sample": {"n_unlabelled": 800},
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 8},
    # "joint": the whole model trained in every run, as before stage 1 was cached
    "train": {"epochs": 4, "finetune_epochs": 1, "stage1": "joint"},
    "search": {"particles": 16, "generations": 8},
}
#: the default since stage 1 is cached: a pretrained body, each round trains the head
TINY_CACHED = {
    **TINY,
    "train": {"epochs": 4, "head_epochs": 3, "head_batches": 10, "finetune_epochs": 1},
}
CASES = [
    *(
        {"method": m, "seed": s, "budget": 60, "config": TINY}
        for m in ("tnao", "nao")
        for s in (0, 1)
    ),
    *(
        {"method": m, "seed": s, "budget": 60, "config": {}}
        for m in ("random", "evolution", "predictor")
        for s in (0, 1, 2)
    ),
    *(
        {"method": m, "seed": s, "budget": 60, "config": TINY_CACHED, "tag": "cached"}
        for m in ("tnao", "nao")
        for s in (0, 1)
    ),
    # the real default on the real table (needs ../shared/data; the test skips without)
    {
        "method": "tnao",
        "seed": 3,
        "budget": 70,
        "config": {"train": {"stage1": "joint"}},
        "benchmark": "nb201",
    },
]


def case_id(case: dict) -> str:
    bench = case.get("benchmark", "analog")
    tag = f"-{case['tag']}" if "tag" in case else ""
    return f"{bench}-{case['method']}-seed{case['seed']}-b{case['budget']}{tag}"


def run_case(case: dict) -> list[list]:
    """``[arch, signal]`` of every new query of the case's run, in query order."""
    from tnao_app.config import Config
    from tnao_app.events import Queried

    try:
        from tnao_app.runs.pipeline import run_pipeline
    except ImportError:  # before the driver restructure
        from tnao_app.pipeline import run_pipeline

    data = {k: dict(v) for k, v in case["config"].items()}
    data["run"] = {
        "benchmark": case.get("benchmark", "analog"),
        "dataset": "cifar10",
        "method": case["method"],
        "seed": case["seed"],
        "budget": case["budget"],
        "device": "cpu",
        "threads": 1,
    }
    seen: list[list] = []

    def listen(ev) -> None:
        if isinstance(ev, Queried):
            seen.append([ev.arch, round(float(ev.signal), 6)])

    run_pipeline(Config.from_dict(data), listeners=[listen])
    return seen


def main() -> None:
    if any(c.get("benchmark") == "nb201" for c in CASES):
        from tnao_app.benchmarks import nb201  # the shared table into this TNAO_HOME

        nb201.import_csv(Path(__file__).resolve().parents[2] / "shared/data/nb201.csv.gz")
    # only cases not recorded yet: a recorded sequence is the reference it was taken as
    # (--all records every case again, for a deliberate change of behaviour)
    out = json.loads(FILE.read_text()) if FILE.exists() and "--all" not in sys.argv else {}
    out.update({case_id(c): run_case(c) for c in CASES if case_id(c) not in out})
    FILE.parent.mkdir(exist_ok=True)
    FILE.write_text(json.dumps(out, indent=0) + "\n")
    print(f"recorded {len(out)} cases into {FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
