"""Benchmark harness for the admin: `make bench` (see bench/README.md). Not part of `make test`."""
