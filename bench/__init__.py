"""Benchmarks (not tests): run them by hand, record figures in docs/benchmarks.md."""
