"""A deterministic simulated shop ("demo data"): landing files to run the platform on, plus the truth.

The generator simulates a shop day by day (UTC) from ``start`` for ``days`` days and writes what
a real shop would export (``shoprec_demo.writers``) and, apart, what it planted
(``shoprec_demo.truth``).  Modules, one concern each:

* ``scales``: the sizes of the shops (``SCALES``).
* ``world``: the shop's state (catalogue with heavy-tailed, trending attractiveness; consumables;
  users with category preferences) and its daily evolution; ``habits``: restocking habits and
  durables bought once; ``draws``: attractiveness on a day and the weighted draws of items and
  categories.
* ``simulate``: one day's sessions, views (preference-led or storewide) and funnel, with the
  weekly and hourly traffic pattern and the restocking visits.
* ``text``: vectorised text encoding; ``corrupt``: realistic bad lines; ``writers``: the landing
  files; ``truth``: the truth files (preferences, items with their attractiveness, habits).
* ``planted_ceiling``: the evaluation's demo-only ceiling, lists ranked by the truth.
* ``generator``: the entry point ``generate`` and its determinism rules.
"""
