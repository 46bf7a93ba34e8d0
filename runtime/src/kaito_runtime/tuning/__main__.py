"""``python -m kaito_runtime.tuning``: the tuning job's entry point (see cli.py)."""

from kaito_runtime.tuning.cli import main

main()
