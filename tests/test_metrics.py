"""observe_many counts a batch of latencies as observe() would one by one."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from engine.obs.metrics import observe_many

BUCKETS = (25e-6, 1e-3, 0.25)


def exposition(observe) -> bytes:
    registry = CollectorRegistry()
    histogram = Histogram("latency_seconds", "test", buckets=BUCKETS, registry=registry)
    observe(histogram)
    return b"\n".join(line for line in generate_latest(registry).splitlines()
                      if not line.startswith(b"latency_seconds_created"))


def test_observe_many_equals_observe_one_by_one() -> None:
    # on a bound, between bounds, past the last one, zero, and a second batch
    batches = [np.array([25e-6, 24e-6, 0.0, 1e-3, 2e-3, 0.25, 7.5]), np.array([3e-5]),
               np.array([])]

    def one_by_one(histogram: Histogram) -> None:
        for batch in batches:
            for value in batch.tolist():
                histogram.observe(value)

    def many(histogram: Histogram) -> None:
        for batch in batches:
            observe_many(histogram, batch)

    expected = exposition(one_by_one)
    assert b'latency_seconds_bucket{le="2.5e-05"} 3.0' in expected
    assert b'latency_seconds_count 8.0' in expected
    assert exposition(many) == expected
