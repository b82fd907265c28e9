"""Each method queries exactly what it queried before the driver restructure.

The sequences in ``tests/data/query_sequences.json`` were recorded by
``tests/sequences.py`` on the code before the restructure; see that module.
"""

from __future__ import annotations

import json

import pytest
from conftest import NB201_CSV, need
from sequences import CASES, FILE, case_id, run_case

RECORDED = json.loads(FILE.read_text())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_method_queries_the_recorded_sequence(case, tnao_home, request):
    if case.get("benchmark") == "nb201":
        need(NB201_CSV)
        request.getfixturevalue("nb201_table")
    got = run_case(case)
    want = RECORDED[case_id(case)]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"query {i + 1} differs: got {g}, recorded {w}"
