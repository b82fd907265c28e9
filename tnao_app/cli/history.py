"""Placeholder until this command group lands."""


def register(app) -> None:
    return None
