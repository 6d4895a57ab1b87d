"""`python -m harness.stripe_standin`: the stand-in process that running_standin() starts."""

from __future__ import annotations

from harness.cli.standin_cmd import main

if __name__ == "__main__":
    main()
