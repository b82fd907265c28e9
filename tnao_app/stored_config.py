"""Configs saved by earlier versions of TNAO, read back with the defaults they ran under
(a field added later takes the value that reproduces what the run did)."""

from __future__ import annotations

#: an NB101 params limit this large was a whole count: the largest cell has about 50 M
#: parameters, and the column was read whole until it was read in millions (as NB201's)
NB101_WHOLE_COUNT = 1000.0


def stored(data: dict, benchmark: str | None = None) -> dict:
    """A config as saved by a run or campaign, read back with the defaults it ran under:
    a goal saved before ``goal.front_picks`` existed searched the scalarised signal, and
    a search saved before ``search.picks`` the swarm's visits, and one saved before
    ``search.partial_picks`` the swarm's on a partial table too, and a campaign plan
    saved before ``search.local_k`` could be automatic its 5 local picks; an NB101 params
    limit saved as a whole count (``params<=2000000``) is read in millions.
    ``benchmark``: where the config does not name it (a campaign's plan)."""
    if not isinstance(data, dict):
        return data
    run, goal = data.get("run"), data.get("goal")
    bench = benchmark or (run.get("benchmark") if isinstance(run, dict) else None)
    if bench == "nb101" and isinstance(goal, dict) and goal.get("constraints"):
        data = {**data, "goal": {**goal, "constraints": _nb101_millions(goal["constraints"])}}
    goal, search = data.get("goal"), data.get("search", {})
    if isinstance(goal, dict) and goal.get("objectives") and "front_picks" not in goal:
        data = {**data, "goal": {**goal, "front_picks": "scalarise"}}
    if isinstance(search, dict) and "picks" not in search:  # saved before search.picks
        data = {**data, "search": {**search, "picks": "swarm"}}
    search = data.get("search", {})
    if isinstance(search, dict) and "partial_picks" not in search:  # saved before it
        data = {**data, "search": {**search, "partial_picks": "swarm"}}
    search = data.get("search", {})
    if isinstance(search, dict) and "local_k" not in search:  # saved before "auto" (-1)
        data = {**data, "search": {**search, "local_k": 5}}
    return data


def _nb101_millions(text: str) -> str:
    """``params<=2000000`` -> ``params<=2``: each params limit of at least
    ``NB101_WHOLE_COUNT`` read as the whole count it was saved as."""
    from .objectives import parse_constraints

    def limit(name: str, value: float) -> float:
        whole = name.endswith("params") and value >= NB101_WHOLE_COUNT
        return value / 1e6 if whole else value

    return ",".join(f"{n}<={limit(n, v):.12g}" for n, v in parse_constraints(text))
