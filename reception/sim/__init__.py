"""Everything that exists only to simulate, in one place: a seeded world's files and the
mock service started for it (:mod:`.world`), persona cards put into vpcd or loopback
and the demo's controls (:mod:`.cards`), and the demo itself (:mod:`.demo`).

The terminal's core, its CLI and its TUI run the same against a USB reader and a real
service without importing this package; they reach it only for ``--world`` /
``--persona`` and ``reception demo`` (import-linter contracts in pyproject.toml).
"""
