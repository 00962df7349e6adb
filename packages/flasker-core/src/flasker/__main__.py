"""`python -m flasker` runs the CLI (the embedded worker is started this way)."""

from .cli import main

main()
