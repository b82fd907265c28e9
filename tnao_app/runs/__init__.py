"""How a run starts, resumes, is recorded and runs in a child process: ``pipeline.py``
(one run end to end), ``session.py`` (recorded in a history, resumed from it),
``child.py`` (the same in a child process, its events relayed)."""
