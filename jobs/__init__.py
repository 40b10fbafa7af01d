"""Spark jobs: one module per job, each with a `run(...)`; transforms are pure DataFrame functions."""
