"""The activation codes' table (reception/home_visit/codes.py), made by the store's
layout 3 (reception/store_schema.py). No imports: the store's layout reads it."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS app_activations (
    code_sha256 TEXT PRIMARY KEY,           -- the code itself is never kept
    issued_at TEXT NOT NULL,                -- ISO 8601, JST
    expires_at TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    device TEXT,                            -- the app's device it activated (once used)
    used_at TEXT
);
CREATE INDEX IF NOT EXISTS app_activations_device ON app_activations(device)
"""
