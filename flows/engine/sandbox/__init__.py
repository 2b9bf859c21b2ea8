"""Sandboxed script execution: Starlark today, behind a small interface for other languages."""
