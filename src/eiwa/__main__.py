"""`python -m eiwa` runs the command line, as `eiwa` does."""

from eiwa.cli import main

main()
