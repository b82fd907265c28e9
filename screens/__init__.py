"""The Textual app (installed as tnao_app.screens)."""
