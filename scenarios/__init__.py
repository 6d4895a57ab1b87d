"""payrace's load scenarios: plain locustfiles, each hunting one race; shared code in common.py."""
