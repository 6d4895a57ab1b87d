"""`python -m harness.cli …`: the payrace command line, for when the script is not on PATH."""

from harness.cli import main

main(prog_name="payrace")
