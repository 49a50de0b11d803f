"""Held-out evaluation of the models against the simulators' ground truth (bench/ and tests)."""
