"""The Textual UI (the only place that imports Textual)."""
