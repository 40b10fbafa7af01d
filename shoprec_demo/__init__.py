"""A deterministic simulated shop ("demo data"): landing files to run the platform on, plus the truth.

The generator simulates a shop day by day (UTC) from ``start`` for ``days`` days and writes what
a real shop would export (``shoprec_demo.writers``) and, apart, what it planted
(``shoprec_demo.truth``).  Modules, one concern each:

* ``scales``: the sizes of the shops (``SCALES``).
* ``world``: the shop's state (catalogue with heavy-tailed, trending attractiveness; consumables;
  users with category preferences; restocking habits) and its daily evolution.
* ``simulate``: one day's sessions, views (preference-led or storewide) and funnel, with the
  weekly and hourly traffic pattern and the restocking visits.
* ``text``: vectorised text encoding; ``corrupt``: realistic bad lines; ``writers``: the landing
  files; ``truth``: the truth files (preferences, items with their attractiveness, habits).
* ``generator``: the entry point ``generate`` and its determinism rules.
"""
