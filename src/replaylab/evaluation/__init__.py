"""Metrics with the official definitions of the benchmarks they name."""
