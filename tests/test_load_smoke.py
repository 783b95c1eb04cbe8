"""A short run of bench/bench_load.py: flooding agent terminals plus API clients.

No timing is asserted (numbers belong in docs/benchmarks.md); this checks that
under load every request is answered without a 5xx, the probes get their
answers, the floods are read and the server's memory does not run away.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_load


@pytest.mark.slow
def test_server_answers_everything_under_a_short_load() -> None:
    report = bench_load.run_load(seconds=4, floods=2, clients=5)
    requests = report["api_requests"]
    assert requests["5xx"] == 0, requests
    assert requests["ok"] > 0 and requests["other"] == 0, requests
    assert report["health_ms"]["samples"] > 0
    assert report["echo_ms"]["samples"] > 0, "the quiet terminal never echoed a key"
    assert report["flood_mb_read"] > 0, "the flooding terminals produced nothing"
    # Far above anything the server needs: catches only runaway growth.
    assert report["rss_growth_mib"] < 500, report["server_rss_mib"]
