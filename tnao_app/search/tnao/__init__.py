"""TNAO's rounds as an ask/tell method (``search.py``): the schedule (``plan.py``), the
typed round state (``state.py``), sampling (``sampling.py``), the picks of a round
(``picks.py``) and the latent-space searches, CSO and NAO's gradient ascent
(``latent.py``)."""

from .search import NAOSearch, RoundSearch, TNAOSearch

__all__ = ["NAOSearch", "RoundSearch", "TNAOSearch"]
