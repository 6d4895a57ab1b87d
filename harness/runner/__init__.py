"""The runner behind `payrace run`: provision, drive a scenario, check the evidence, report."""
