"""Metrics, driven without a graph."""

from __future__ import annotations

import pytest

from rlgraph.core import Clock
from rlgraph.nodes.data import Episodes
from rlgraph.nodes.metrics import Metrics


def test_report_averages_the_last_window_of_episodes():
    clock = Clock()
    metrics = Metrics(window=2, clock=clock)
    assert metrics.report() == {"episodes": 0}
    clock.tick = 10
    metrics.step(Episodes(returns=[10.0], lengths=[10], env_index=[0], env_steps=10))
    clock.tick = 30
    metrics.step(Episodes(returns=[20.0, 40.0], lengths=[20, 40], env_index=[1, 0],
                          env_steps=60))
    assert metrics.report() == {"episodes": 3, "return_mean": pytest.approx(30.0),
                                "length_mean": pytest.approx(30.0)}
    assert metrics.rows == [
        {"tick": 10, "env_steps": 10, "episode": 1, "return": 10.0, "length": 10},
        {"tick": 30, "env_steps": 60, "episode": 2, "return": 20.0, "length": 20},
        {"tick": 30, "env_steps": 60, "episode": 3, "return": 40.0, "length": 40},
    ]


def test_state_dict_round_trip():
    a = Metrics(window=5)
    a.step(Episodes(returns=[3.0], lengths=[3], env_index=[0], env_steps=3))
    b = Metrics(window=5)
    b.load_state_dict(a.state_dict())
    assert b.report() == a.report() and b.rows == a.rows


def test_rows_have_the_columns_rlgraph_run_writes_to_metrics_csv():
    metrics = Metrics()
    metrics.step(Episodes(returns=[3.0], lengths=[3], env_index=[0], env_steps=3))
    assert tuple(metrics.rows[0]) == Metrics.row_fields
    assert Metrics.log_name == "metrics"
