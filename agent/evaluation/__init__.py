"""Scripted multi-turn evaluation: a simulated shopper, per-turn metrics, `rummage eval`."""
