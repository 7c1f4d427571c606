"""Benchmarks that print figures for docs/benchmarks.md; run by `make bench`, not by pytest."""
