"""Data quality: Great Expectations suites (`expectations/`) run on table partitions, results recorded.

Modules, one concern each: ``suites`` (suite files), ``expectation_kwargs`` (GE classes built from
kwargs, the columns they name), ``checks`` (entries resolved per partition), ``validation`` (the GE run),
``report`` (results), ``record`` (ops.validation_results).
"""
