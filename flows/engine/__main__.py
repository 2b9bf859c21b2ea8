"""`python -m flows.engine`: a standalone flow runner (flows/engine/cli.py)."""

from flows.engine.cli import main

main()
