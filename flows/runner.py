"""`python -m flows.runner`: the earlier name of `python -m flows.engine`, still accepted."""

from flows.engine.cli import main

if __name__ == "__main__":
    main()
