"""Simulated devices, farms, forests and factories that stand in for hardware."""
