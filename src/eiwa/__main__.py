"""`python -m eiwa` runs the command line, as `eiwa` does."""

from .cli import main

main()
