"""Hostile checkpoints run nothing; envs are saved as data and resume exactly."""

from __future__ import annotations

import copyreg
import os
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from workflow_nodes import DRIFT_ID, METRICS, policy_graph, small_dqn

from rlgraph.cli import main
from rlgraph.nodes.envstate import env_classes, load_env, save_env
from rlgraph.nodes.safe_pickle import UnsafePickle, safe_loads
from rlgraph.workflow import checkpoint as ckpt

QUIET = ["--quiet", "--no-tensorboard"]


class Reduce:
    """Pickles as a call of `func(*args)` (what a hostile file does)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class NewAndBuild:
    """Pickles as `cls.__new__(cls)` with `state` set (protocol 2+), no call."""

    def __init__(self, cls, state):
        self.cls, self.state = cls, state

    @property
    def __class__(self):  # what pickle checks __newobj__'s class against
        return self.cls

    def __reduce__(self):
        return copyreg.__newobj__, (self.cls,), self.state


def hostile_payloads(folder: Path) -> dict[str, bytes]:
    """Each pickle, if it ran, would leave something under `folder`."""
    marker = folder / "pwned"
    video = folder / "videos"
    payloads = {}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        payloads[f"os.system, protocol {protocol}"] = pickle.dumps(
            [Reduce(os.system, f"touch {marker}")], protocol=protocol)
        payloads[f"open() for writing, protocol {protocol}"] = pickle.dumps(
            Reduce(open, str(marker), "w"), protocol=protocol)
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    payloads["RecordVideo(env, folder)"] = pickle.dumps(
        Reduce(gym.wrappers.RecordVideo, env, str(video)))
    payloads["RecordVideo made with __new__"] = pickle.dumps(
        NewAndBuild(gym.wrappers.RecordVideo, {"video_folder": str(video)}))
    payloads["an allowed wrapper's constructor"] = pickle.dumps(
        Reduce(gym.wrappers.TimeLimit, env, 5))
    return payloads


def nothing_ran(folder: Path) -> bool:
    return not (folder / "pwned").exists() and not (folder / "videos").exists()


def plant(run_dir: Path, env_state: dict) -> Path:
    """Replace env 0's saved state in the newest checkpoint of `run_dir`."""
    path = ckpt.latest(run_dir)
    payload = torch.load(path, weights_only=True)
    payload["state"]["nodes"]["env"]["envs"][0] = env_state
    ckpt.save(payload, path)
    return path


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory) -> Path:
    """A run of an env without a state adapter: its checkpoint holds a pickle."""
    tmp = tmp_path_factory.mktemp("drift")
    out = tmp / "run"
    graph = policy_graph(tmp, f"{{id: '{DRIFT_ID}'}}", "LeanLeft", steps=50)
    assert main(["run", str(graph), "--out", str(out), *QUIET]) == 0
    return out


def test_an_env_without_adapter_is_saved_as_a_pickle_of_its_own_classes(drift_run):
    saved = ckpt.read(ckpt.latest(drift_run))["state"]["nodes"]["env"]["envs"][0]
    assert set(saved) == {"pickle"}
    fresh = gym.make(DRIFT_ID)
    loaded = load_env(fresh, saved)
    assert type(loaded.unwrapped).__name__ == "DriftEnv" and loaded is not fresh


@pytest.mark.parametrize("command", ["eval", "resume"])
def test_every_hostile_pickle_is_refused_and_runs_nothing(drift_run, command, tmp_path,
                                                          capsys):
    original = ckpt.latest(drift_run).read_bytes()
    for name, blob in hostile_payloads(tmp_path).items():
        path = plant(drift_run, {"pickle": blob})
        args = [command, str(drift_run)] + (["--steps", "100", *QUIET]
                                            if command == "resume" else ["--episodes", "1"])
        assert main(args) == 1, name
        err = capsys.readouterr().err
        assert f"{path}: error: node 'env' (GymEnv): refusing to unpickle: it " in err, name
        assert "Traceback" not in err, name
        assert nothing_ran(tmp_path), name
    ckpt.latest(drift_run).write_bytes(original)


def test_a_pickle_where_an_adapter_env_is_data_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "50", "--out", str(out),
                 *QUIET]) == 0
    blob = pickle.dumps([Reduce(os.system, f"touch {tmp_path / 'pwned'}")])
    path = plant(out, {"pickle": blob})
    for command in (["eval", str(out), "--episodes", "1"],
                    ["resume", str(out), "--steps", "60", *QUIET]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert (f"{path}: error: node 'env' (GymEnv): refusing to unpickle: "
                f"gymnasium.envs.classic_control.cartpole:CartPoleEnv is saved as data, never "
                f"as a pickle") in err
        assert nothing_ran(tmp_path)


def test_the_restricted_unpickler_allows_exact_classes_and_never_calls_one(tmp_path):
    env = gym.make("CartPole-v1")
    env.reset(seed=1)
    env.step(0)
    classes = env_classes(env)
    for protocol in (3, 4, 5):
        back = safe_loads(pickle.dumps(env, protocol=protocol), classes)
        assert np.array_equal(back.unwrapped.state, env.unwrapped.state)
        assert (back.unwrapped.np_random.bit_generator.state
                == env.unwrapped.np_random.bit_generator.state)
    assert gym.wrappers.RecordVideo not in classes  # exact pairs, never module prefixes
    with pytest.raises(UnsafePickle, match=r"it names gymnasium\.wrappers\.rendering\.RecordVideo"):
        safe_loads(hostile_payloads(tmp_path)["RecordVideo made with __new__"], classes)
    with pytest.raises(UnsafePickle, match=r"it calls gymnasium\.wrappers\.common\.TimeLimit"):
        safe_loads(hostile_payloads(tmp_path)["an allowed wrapper's constructor"], classes)
    with pytest.raises(UnsafePickle, match="INST/OBJ"):
        safe_loads(b"(c" + b"gymnasium.wrappers.common\nTimeLimit\no.", classes)
    with pytest.raises(UnsafePickle, match="not a readable pickle"):
        safe_loads(b"\x80\x04garbage", classes)
    assert nothing_ran(tmp_path)


def test_an_ezpickle_env_is_never_rebuilt_from_a_pickle():
    class Built(gym.Env, gym.utils.EzPickle):
        pass
    with pytest.raises(UnsafePickle, match="calls its constructor when unpickled"):
        safe_loads(pickle.dumps(1), [Built])


# ---- envs as data: exact resume ------------------------------------------------------------
@pytest.mark.parametrize("env_params, policy", [
    ("{id: Pendulum-v1, kwargs: {max_episode_steps: 20}}", "Torque"),
    ("{id: Acrobot-v1, kwargs: {max_episode_steps: 25}, num_envs: 2}", "LeanLeft"),
    ("{id: MountainCar-v0, kwargs: {max_episode_steps: 20}}", "LeanLeft"),
    (f"{{id: '{DRIFT_ID}'}}", "LeanLeft"),  # no adapter: the restricted pickle
])
def test_resume_continues_exactly_with_envs_saved_as_data(env_params, policy, tmp_path):
    graph = policy_graph(tmp_path, env_params, policy, steps=100, extra=METRICS)
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    assert main(["run", str(graph), "--out", str(straight), *QUIET]) == 0
    assert main(["run", str(graph), "--steps", "37", "--out", str(halves), *QUIET]) == 0
    assert main(["resume", str(halves), "--steps", "100", *QUIET]) == 0
    metrics = (straight / "metrics.csv").read_text()
    assert metrics.count("\n") > 3  # episodes ended (and reset from the env's generator)
    assert (halves / "metrics.csv").read_text() == metrics
    a = ckpt.read(ckpt.latest(straight))["state"]["nodes"]["env"]
    b = ckpt.read(ckpt.latest(halves))["state"]["nodes"]["env"]
    assert torch.equal(a["obs"], b["obs"])


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0",
                                    "MountainCarContinuous-v0", "Pendulum-v1"])
def test_each_classic_control_env_continues_the_same_from_its_saved_data(env_id):
    env = gym.make(env_id, max_episode_steps=7)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(30)]
    env.reset(seed=5)
    for action in actions[:10]:  # past a time-limit reset, mid-episode
        if any(env.step(action)[2:4]):
            env.reset()
    saved = save_env(env)
    assert "pickle" not in saved and saved["class"].startswith("gymnasium.envs.classic_control")
    fresh = load_env(gym.make(env_id, max_episode_steps=7), saved)
    for action in actions[10:]:
        a, b = env.step(action), fresh.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]
        if any(a[2:4]):
            assert np.array_equal(env.reset()[0], fresh.reset()[0])


def test_an_adapter_env_is_saved_as_numbers_and_generator_states():
    env = gym.make("Pendulum-v1", max_episode_steps=5)
    env.reset(seed=3)
    env.step(np.array([0.5], dtype=np.float32))
    saved = save_env(env)
    assert saved["class"] == "gymnasium.envs.classic_control.pendulum:PendulumEnv"
    assert saved["state"]["state"].shape == (2,) and saved["rng"]["bit_generator"] == "PCG64"
    assert [w["state"] for w in saved["wrappers"]][:2] == [{"_elapsed_steps": 1},
                                                          {"_has_reset": True}]
    fresh = gym.make("Pendulum-v1", max_episode_steps=5)
    assert load_env(fresh, saved) is fresh
    for _ in range(6):  # the same steps, the same time limit, the same reset
        a, b = env.step(np.array([1.0], np.float32)), fresh.step(np.array([1.0], np.float32))
        assert np.array_equal(a[0], b[0]) and a[2:4] == b[2:4]
        if a[3]:
            assert np.array_equal(env.reset()[0], fresh.reset()[0])
