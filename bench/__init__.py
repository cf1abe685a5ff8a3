"""Benchmarks (`make bench`): figures printed and appended to bench/results.csv, never asserted."""
