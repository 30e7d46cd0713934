"""Flags for CLI training runs in tests of the CLI's plumbing (progress, output files, signals, errors): the
default recipe's made-up sets and its second (deskewed) view left out. Making them takes most of such a
run's time, and those tests are not about them (tests/test_world_handwriting.py and the session's
``default_model`` train the whole default)."""

PLAIN = ["--outliers", "0", "--synthetic-digits", "0", "--low-resolution", "0", "--restyled-digits", "0", "--deskew", "off"]
