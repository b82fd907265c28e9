"""Run history in SQLite (installed as tnao_app.storage)."""
