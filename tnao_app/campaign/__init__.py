"""Campaigns: methods x seeds x budgets on one benchmark and dataset, recorded, resumable
and run on a local process pool or Ray.

``plan`` parses and checks what to run and runs one run; ``executors`` runs many;
``runner`` records them in a history as they finish and resumes a stopped campaign;
``summary`` turns the runs into the table and the anytime curves.
"""
