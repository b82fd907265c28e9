"""Configs saved by earlier versions of TNAO, read back with the defaults they ran under
(a field added later takes the value that reproduces what the run did)."""

from __future__ import annotations


def stored(data: dict) -> dict:
    """A config as saved by a run or campaign, read back with the defaults it ran under:
    a goal saved before ``goal.front_picks`` existed searched the scalarised signal, and
    a search saved before ``search.picks`` the swarm's visits, and one saved before
    ``search.partial_picks`` the swarm's on a partial table too, and a campaign plan
    saved before ``search.local_k`` could be automatic its 5 local picks."""
    if not isinstance(data, dict):
        return data
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
