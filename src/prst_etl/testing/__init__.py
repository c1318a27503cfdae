"""Builders of sample and synthetic data for tests, benchmarks and the demo fixtures.

Never imported by a verb: the runtime does not need them."""
