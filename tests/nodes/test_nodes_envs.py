"""GymEnv and ScaleReward, driven without a graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlgraph.core import NodeConfigError
from rlgraph.nodes.data import Transition
from rlgraph.nodes.envs import GymEnv, ScaleReward

# CartPole terminates once |x| > 2.4 or |theta| > 12 degrees
X_LIMIT, THETA_LIMIT = 2.4, 12 * 2 * np.pi / 360


def random_actions(num_envs: int, ticks: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(2, (num_envs,), generator=g) for _ in range(ticks)]


def drive(env: GymEnv, actions: list[torch.Tensor]) -> list[dict]:
    """Tick 0 without an action (reset), then one tick per action."""
    outs = [env.step()]
    outs += [env.step(a) for a in actions]
    return outs


def test_first_firing_resets_and_emits_only_observations():
    env = GymEnv(seed=3, id="CartPole-v1", num_envs=3)
    out = env.step()
    assert set(out) == {"obs"}
    assert out["obs"].shape == (3, 4) and out["obs"].dtype == torch.float32
    assert env.static_outputs["spec"].n_actions == 2
    assert env.static_outputs["spec"].num_envs == 3
    env.close()


def test_step_emits_transition_with_one_row_per_env():
    env = GymEnv(seed=3, id="CartPole-v1", num_envs=3)
    obs0 = env.step()["obs"]
    out = env.step(torch.tensor([0, 1, 1]))
    tr = out["transition"]
    assert torch.equal(tr.obs, obs0)
    assert tr.action.tolist() == [0, 1, 1] and tr.action.dtype == torch.int64
    assert tr.reward.tolist() == [1.0, 1.0, 1.0]
    assert torch.equal(tr.next_obs, out["obs"])
    assert not tr.terminated.any() and not tr.truncated.any()
    assert env.env_steps == 3
    env.close()


def test_no_transition_crosses_an_episode_boundary_with_several_envs():
    """Per env, each transition starts where the previous one ended, except right after
    an episode end: there the next transition starts from a fresh reset observation, and
    the ended one keeps the true final observation (not the reset one)."""
    num_envs, ticks = 4, 300
    env = GymEnv(seed=7, id="CartPole-v1", num_envs=num_envs,
                 kwargs={"max_episode_steps": 25})
    outs = drive(env, random_actions(num_envs, ticks))
    transitions = [o["transition"] for o in outs[1:]]
    ended = {"terminated": 0, "truncated": 0}
    for t in range(len(transitions) - 1):
        now, after = transitions[t], transitions[t + 1]
        for i in range(num_envs):
            if now.terminated[i] or now.truncated[i]:
                assert not torch.equal(after.obs[i], now.next_obs[i])
                assert after.obs[i].abs().max() <= 0.05  # CartPole's reset range
                if now.terminated[i]:
                    ended["terminated"] += 1
                    x, theta = now.next_obs[i, 0], now.next_obs[i, 2]
                    assert abs(x) > X_LIMIT or abs(theta) > THETA_LIMIT
                else:
                    ended["truncated"] += 1
            else:
                assert torch.equal(after.obs[i], now.next_obs[i])
    # both kinds of ending happened, and were kept apart
    assert ended["terminated"] > 5 and ended["truncated"] > 5
    env.close()


def test_episode_events_sum_the_rewards_of_their_own_env():
    num_envs = 3
    env = GymEnv(seed=1, id="CartPole-v1", num_envs=num_envs,
                 kwargs={"max_episode_steps": 30})
    outs = drive(env, random_actions(num_envs, 200, seed=1))
    running = [0.0] * num_envs
    steps = [0] * num_envs
    episodes = []
    for out in outs[1:]:
        tr = out["transition"]
        for i in range(num_envs):
            running[i] += float(tr.reward[i])
            steps[i] += 1
        if "episode_end" in out:
            ev = out["episode_end"]
            assert ev.env_index == [i for i in range(num_envs)
                                    if tr.terminated[i] or tr.truncated[i]]
            for i, ret, length in zip(ev.env_index, ev.returns, ev.lengths):
                assert ret == running[i] and length == steps[i]
                episodes.append((i, ret))
                running[i], steps[i] = 0.0, 0
        else:
            assert not (tr.terminated | tr.truncated).any()
    assert len(episodes) >= 20
    assert all(length <= 30 for _, length in episodes)
    env.close()


def test_same_seed_same_observations_different_seed_different():
    actions = random_actions(2, 50)
    runs = []
    for seed in (5, 5, 6):
        env = GymEnv(seed=seed, id="CartPole-v1", num_envs=2)
        runs.append(torch.stack([o["obs"] for o in drive(env, actions)]))
        env.close()
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_state_dict_resumes_the_exact_trajectory():
    actions = random_actions(2, 120)
    env = GymEnv(seed=2, id="CartPole-v1", num_envs=2, kwargs={"max_episode_steps": 40})
    drive(env, actions[:60])
    saved = env.state_dict()
    first = [env.step(a) for a in actions[60:]]
    other = GymEnv(seed=99, id="CartPole-v1", num_envs=2, kwargs={"max_episode_steps": 40})
    other.load_state_dict(saved)
    second = [other.step(a) for a in actions[60:]]
    for a, b in zip(first, second):
        assert torch.equal(a["obs"], b["obs"])
        assert ("episode_end" in a) == ("episode_end" in b)
        if "episode_end" in a:
            assert a["episode_end"] == b["episode_end"]
    env.close()
    other.close()


def test_absent_action_after_the_start_holds_the_env():
    env = GymEnv(seed=0, id="CartPole-v1")
    obs = env.step()["obs"]
    out = env.step(None)
    assert set(out) == {"obs"} and torch.equal(out["obs"], obs)
    assert env.env_steps == 0
    env.close()


def test_unknown_env_id_is_a_config_error_with_a_hint():
    with pytest.raises(NodeConfigError, match="CartPol-v1") as info:
        GymEnv(id="CartPol-v1")
    assert "CartPole" in info.value.message


def test_report_counts_env_steps():
    env = GymEnv(seed=0, id="CartPole-v1", num_envs=2)
    drive(env, random_actions(2, 10))
    report = env.report()
    assert report["env_steps"] == 20 and report["steps_per_s"] > 0
    env.close()


def test_scale_reward_scales_only_the_reward():
    tr = Transition(obs=torch.zeros(2, 4), action=torch.tensor([0, 1]),
                    reward=torch.tensor([1.0, -2.0]), next_obs=torch.ones(2, 4),
                    terminated=torch.tensor([False, True]),
                    truncated=torch.tensor([False, False]))
    out = ScaleReward(scale=0.01).step(tr)["transition"]
    assert torch.allclose(out.reward, torch.tensor([0.01, -0.02]))
    assert out.terminated is tr.terminated and out.next_obs is tr.next_obs


def test_emitted_tensors_are_not_changed_by_later_ticks():
    """Consumers may keep what the env emitted (a buffer of recent transitions): the
    env never writes into a tensor it has already emitted."""
    env = GymEnv(seed=4, id="CartPole-v1", num_envs=2, kwargs={"max_episode_steps": 5})
    outs = drive(env, random_actions(2, 3))
    kept = [t for t in outs[1]["transition"].fields().values() if t is not None]
    copies = [t.clone() for t in kept]
    drive(env, random_actions(2, 20, seed=1))
    assert all(torch.equal(a, b) for a, b in zip(kept, copies))
    env.close()


def test_device_auto_emits_cpu_tensors_on_a_machine_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("auto means cuda here")
    env = GymEnv(seed=0, id="CartPole-v1", num_envs=2, device="auto")
    out = drive(env, random_actions(2, 1))[-1]
    assert out["obs"].device.type == "cpu"
    assert all(t.device.type == "cpu" for t in out["transition"].fields().values() if t is not None)
    env.close()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scale_reward_gives_the_product_with_the_python_float_bit_for_bit(dtype):
    rewards = torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=dtype)
    tr = Transition(obs=torch.zeros(1000, 4), action=torch.zeros(1000, dtype=torch.int64),
                    reward=rewards, next_obs=torch.zeros(1000, 4),
                    terminated=torch.zeros(1000, dtype=torch.bool),
                    truncated=torch.zeros(1000, dtype=torch.bool))
    out = ScaleReward(scale=0.013).step(tr)["transition"]
    assert out.reward.dtype == dtype and torch.equal(out.reward, rewards * 0.013)


def test_mujoco_envs_resume_exactly_from_their_simulator_state():
    """HalfCheetah (the optional extra .[mujoco]; CI installs it): saved as data (qpos,
    qvel, warm start, time, the RNGs), a fresh env continues step for step, through
    episode ends (40-step episodes: resets draw from the saved generator)."""
    pytest.importorskip("mujoco", reason="MuJoCo is the optional extra .[mujoco]")
    kwargs = {"max_episode_steps": 40}
    first = GymEnv(seed=3, id="HalfCheetah-v5", num_envs=2, kwargs=kwargs)
    first.step()
    g = torch.Generator().manual_seed(0)
    actions = [torch.rand(2, 6, generator=g) * 2 - 1 for _ in range(100)]
    for a in actions[:30]:
        first.step(a)
    saved = first.state_dict()
    assert [sorted(e["state"]) for e in saved["envs"]] == [  # data, not a pickled env
        ["act", "ctrl", "qacc_warmstart", "qpos", "qvel", "time"]] * 2
    second = GymEnv(seed=99, id="HalfCheetah-v5", num_envs=2, kwargs=kwargs)
    second.load_state_dict(saved)
    for a in actions[30:]:
        x, y = first.step(a), second.step(a)
        assert torch.equal(x["obs"], y["obs"])
        assert torch.equal(x["transition"].reward, y["transition"].reward)
        assert ("episode_end" in x) == ("episode_end" in y)
    first.close()
    second.close()


def test_envs_in_worker_processes_give_what_the_in_process_loop_gives():
    """AsyncGymEnv steps its envs in subprocesses; for the same seed and actions every
    output matches GymEnv's (same-step resets: next_obs stays the final observation)."""
    from rlgraph.nodes import AsyncGymEnv
    kwargs = {"max_episode_steps": 7}
    loop = GymEnv(seed=5, id="CartPole-v1", num_envs=3, kwargs=kwargs)
    workers = AsyncGymEnv(seed=5, id="CartPole-v1", num_envs=3, kwargs=kwargs)
    try:
        for a, b in zip(drive(loop, random_actions(3, 20)), drive(workers, random_actions(3, 20))):
            assert torch.equal(a["obs"], b["obs"])
            assert ("episode_end" in a) == ("episode_end" in b)
            if "transition" in a:
                for key, value in a["transition"].items():
                    assert torch.equal(value, getattr(b["transition"], key)), key
            if "episode_end" in a:
                assert a["episode_end"] == b["episode_end"]
        assert workers.env_steps == loop.env_steps == 60
    finally:
        loop.close()
        workers.close()


def test_envs_in_worker_processes_resume_by_restarting_their_episodes_and_say_so():
    from rlgraph.core import GraphWarning
    from rlgraph.nodes import AsyncGymEnv
    first = AsyncGymEnv(seed=5, id="CartPole-v1", num_envs=2)
    drive(first, random_actions(2, 5))
    saved = first.state_dict()
    first.close()
    second = AsyncGymEnv(seed=5, id="CartPole-v1", num_envs=2)
    try:
        with pytest.warns(GraphWarning, match="starts their episodes anew"):
            second.load_state_dict(saved)
        out = second.step(torch.zeros(2, dtype=torch.int64))
        assert set(out) == {"obs"} and second.env_steps == 10  # a reset, then on
    finally:
        second.close()
