"""Benchmarks run by ``make bench``. They print figures; they never assert timings."""
