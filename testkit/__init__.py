"""What tests and benches both use: servers started for a run, footage made with ffmpeg,
people, units and claims. It imports nothing from `tests` or `bench`, and neither imports
the other (tests/unit/test_import_rules.py)."""
