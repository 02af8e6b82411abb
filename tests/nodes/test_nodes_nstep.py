"""NStep against a reference computed from whole episodes, driven without a graph."""

from __future__ import annotations

import pytest
import torch

from rlgraph.core import NodeConfigError
from rlgraph.nodes.data import Transition
from rlgraph.nodes.nstep import NStep

# Two envs, eight ticks. Episode ends: env 0 terminates at tick 4 and is truncated at
# tick 7; env 1 is truncated at tick 1, runs on and terminates at tick 6.
TERMINATED = {(0, 4), (1, 6)}
TRUNCATED = {(0, 7), (1, 1)}
TICKS, ENVS = 8, 2


def step(env: int, t: int) -> dict:
    """The scripted step of `env` at tick t: obs [env, t], reward 10 env + t."""
    return {"obs": [env, t], "action": t % 3, "reward": 10.0 * env + t,
            "next_obs": [env, t + 0.5],  # the final obs at an episode end too
            "terminated": (env, t) in TERMINATED, "truncated": (env, t) in TRUNCATED}


def tick(t: int) -> Transition:
    rows = [step(e, t) for e in range(ENVS)]
    return Transition(
        obs=torch.tensor([r["obs"] for r in rows], dtype=torch.float32),
        action=torch.tensor([r["action"] for r in rows]),
        reward=torch.tensor([r["reward"] for r in rows], dtype=torch.float32),
        next_obs=torch.tensor([r["next_obs"] for r in rows], dtype=torch.float32),
        terminated=torch.tensor([r["terminated"] for r in rows]),
        truncated=torch.tensor([r["truncated"] for r in rows]))


def reference(n: int) -> list[tuple]:
    """Every n-step row the script allows, from whole episodes: (tick emitted, env,
    start tick, action, rewards, k, next_obs, terminated, truncated)."""
    rows = []
    for env in range(ENVS):
        episode: list[int] = []
        for t in range(TICKS):
            episode.append(t)
            s = step(env, t)
            if s["terminated"] or s["truncated"] or t == TICKS - 1:
                ended = s["terminated"] or s["truncated"]
                for i, start in enumerate(episode):
                    k = min(n, len(episode) - i)
                    last = start + k - 1
                    if k < n and not ended:
                        continue  # the run stopped before this window filled
                    end = step(env, last)
                    cut = last == episode[-1] and ended  # the window reached the end
                    rows.append((last, env, start, start % 3,
                                 [step(env, start + j)["reward"] for j in range(k)], k,
                                 end["next_obs"], cut and end["terminated"],
                                 cut and end["truncated"]))
                episode = []
    return sorted(rows)


def emitted(n: int) -> list[tuple]:
    node = NStep(n=n)
    rows = []
    for t in range(TICKS):
        out = node.step(tick(t))["transition"]
        assert out.reward.shape == (out.obs.shape[0], n) and out.steps.dtype == torch.int64
        for i in range(out.obs.shape[0]):
            env, start = (int(x) for x in out.obs[i])
            k = int(out.steps[i])
            assert out.reward[i, k:].tolist() == [0.0] * (n - k)  # zero padding
            rows.append((t, env, start, int(out.action[i]), out.reward[i, :k].tolist(), k,
                         out.next_obs[i].tolist(), bool(out.terminated[i]),
                         bool(out.truncated[i])))
    return rows


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_rows_match_whole_episode_reference_across_ends_and_envs(n):
    rows = emitted(n)
    assert sorted(rows) == reference(n)
    # within a tick: env by env, oldest start first
    for t in range(TICKS):
        this_tick = [(env, start) for tt, env, start, *_ in rows if tt == t]
        assert this_tick == sorted(this_tick)


def test_episode_end_flushes_the_window_with_fewer_steps():
    rows = {(env, start): row for _, env, start, *row in emitted(3)}
    # env 0 terminates at tick 4: starts 2, 3, 4 flush with 3, 2, 1 steps, no bootstrap
    assert [rows[(0, s)][2] for s in (2, 3, 4)] == [3, 2, 1]
    assert all(rows[(0, s)][4] and not rows[(0, s)][5] for s in (2, 3, 4))
    # env 1 truncated at tick 1: starts 0, 1 flush with 2 and 1 steps, bootstrapping
    # from the final observation of tick 1
    assert [rows[(1, s)][2] for s in (0, 1)] == [2, 1]
    assert all(rows[(1, s)][3] == [1.0, 1.5] and rows[(1, s)][5] for s in (0, 1))
    assert rows[(1, 0)][1] == [10.0, 11.0]
    # a full window mid-episode: 3 steps, neither flag
    assert tuple(rows[(0, 0)][1:]) == ([0.0, 1.0, 2.0], 3, [0.0, 2.5], False, False)


def test_rows_per_tick_vary_and_may_be_zero():
    node = NStep(n=3)
    counts = [node.step(tick(t))["transition"].obs.shape[0] for t in range(TICKS)]
    # tick 0: no window full; tick 1: env 1 truncated (2 rows); ticks 2, 3: env 0's
    # window full; tick 4: env 0 terminates (3 rows) and env 1's window is full (1 row)
    assert counts[:5] == [0, 2, 1, 1, 4]


def test_state_round_trip_continues_the_same_windows():
    a, b = NStep(n=3), NStep(n=3)
    for t in range(3):
        a.step(tick(t))
    b.load_state_dict(a.state_dict())
    for t in range(3, TICKS):
        x, y = a.step(tick(t))["transition"], b.step(tick(t))["transition"]
        assert list(x.fields()) == list(y.fields())
        assert all(torch.equal(u, y.fields()[k]) for k, u in x.items())


def test_n_step_transitions_are_not_folded_twice():
    node = NStep(n=2)
    out = node.step(tick(0))["transition"]
    with pytest.raises(NodeConfigError, match="one-step transitions"):
        NStep(n=2).step(out._replace(steps=torch.ones(0, dtype=torch.int64)))


def test_steady_ticks_emit_each_env_s_oldest_step_and_keep_the_rows_handed_out():
    # no episode ends: from tick n-1 on every env emits one row a tick (the common tick)
    n, envs = 3, 2
    node = NStep(n=n)
    handed_out = []
    for t in range(10):
        one_step = Transition(
            obs=torch.tensor([[e, t] for e in range(envs)], dtype=torch.float32),
            action=torch.tensor([t % 2] * envs),
            reward=torch.tensor([10.0 * e + t for e in range(envs)]),
            next_obs=torch.tensor([[e, t + 0.5] for e in range(envs)]),
            terminated=torch.zeros(envs, dtype=torch.bool),
            truncated=torch.zeros(envs, dtype=torch.bool))
        out = node.step(one_step)["transition"]
        assert out.obs.shape[0] == (0 if t < n - 1 else envs)
        handed_out.append((t, out))
    for t, out in handed_out[n - 1:]:
        start = t - n + 1
        assert out.obs.tolist() == [[e, start] for e in range(envs)]
        assert out.action.tolist() == [start % 2] * envs
        assert out.reward.tolist() == [[10.0 * e + start + j for j in range(n)]
                                       for e in range(envs)]
        assert out.next_obs.tolist() == [[e, t + 0.5] for e in range(envs)]
        assert out.steps.tolist() == [n] * envs and out.steps.dtype == torch.int64
        assert not out.terminated.any() and not out.truncated.any()
