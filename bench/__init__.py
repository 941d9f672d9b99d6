"""Benchmarks: Redline against peers, side by side, in one run (ratios, not timed tests)."""
