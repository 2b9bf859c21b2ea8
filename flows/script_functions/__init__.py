"""Script function modules that ship with Flowsite (see flows/engine/script_functions.py)."""
