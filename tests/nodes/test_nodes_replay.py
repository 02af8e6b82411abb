"""ReplayBuffer, ReplayMemory and UniformSampler, driven without a graph."""

from __future__ import annotations

import pytest
import torch

from rlgraph.core import NodeConfigError
from rlgraph.nodes.data import Transition
from rlgraph.nodes.replay import ReplayBuffer, UniformSampler


def transition(ids: list[int], obs_dim: int = 4) -> Transition:
    """Rows tagged by id: obs = id, next_obs = id + 0.5, reward = id."""
    t = torch.tensor(ids, dtype=torch.float32)
    return Transition(obs=t[:, None].repeat(1, obs_dim), action=torch.tensor(ids) % 2,
                      reward=t, next_obs=(t + 0.5)[:, None].repeat(1, obs_dim),
                      terminated=torch.tensor(ids) % 3 == 0,
                      truncated=torch.zeros(len(ids), dtype=torch.bool))


def test_ring_wraps_around_and_drops_the_oldest():
    replay = ReplayBuffer(capacity=5)
    memory = replay.static_outputs["buffer"]
    for ids in ([1, 2], [3, 4], [5, 6], [7, 8]):  # two envs per tick
        replay.step(transition(ids))
    assert len(memory) == 5
    # slots 0..4 after writing 1..8 into a ring of 5: 6 7 8 4 5
    assert memory.storage["reward"].tolist() == [6.0, 7.0, 8.0, 4.0, 5.0]
    assert memory.pos == 3
    batch = memory.gather(torch.arange(5))
    assert torch.equal(batch.next_obs[:, 0], batch.reward + 0.5)  # rows stay whole
    assert batch.terminated.tolist() == [True, False, False, False, False]
    assert batch.action.tolist() == [0, 1, 0, 0, 1]


def test_memory_is_capacity_times_transition_bytes():
    replay = ReplayBuffer(capacity=100_000)
    memory = replay.static_outputs["buffer"]
    replay.step(transition([1]))
    # obs + next_obs 2 * 4 * 4 bytes, int64 action 8, float32 reward 4, two bools 2
    assert memory.bytes_per_transition == 46
    assert memory.memory_bytes == 4_600_000
    assert memory.storage["obs"].shape == (100_000, 4)  # allocated once, up front


def test_sampler_waits_for_min_size_then_samples_filled_slots_only():
    replay = ReplayBuffer(capacity=100)
    sampler = UniformSampler(buffer=replay.static_outputs["buffer"], batch_size=64,
                             min_size=10, seed=1)
    replay.step(transition(list(range(9))))
    assert sampler.step() is None
    replay.step(transition([9]))
    batch = sampler.step()["batch"]
    assert batch.obs.shape == (64, 4) and batch.action.shape == (64,)
    assert batch.indices.max() < 10
    assert set(batch.reward.tolist()) <= set(map(float, range(10)))
    assert torch.equal(batch.reward, batch.indices.float())  # rows match their slots


def test_sampler_default_min_size_is_the_batch_size():
    replay = ReplayBuffer(capacity=100)
    sampler = UniformSampler(buffer=replay.static_outputs["buffer"], batch_size=8)
    replay.step(transition(list(range(7))))
    assert sampler.step() is None
    replay.step(transition([7]))
    assert sampler.step() is not None


def test_sampler_same_seed_same_batches():
    replay = ReplayBuffer(capacity=50)
    replay.step(transition(list(range(50))))
    memory = replay.static_outputs["buffer"]
    runs = [UniformSampler(buffer=memory, seed=s, batch_size=16).step()["batch"].indices
            for s in (3, 3, 4)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_state_dict_round_trip():
    replay = ReplayBuffer(capacity=6)
    for ids in ([1, 2, 3], [4, 5, 6], [7, 8, 9]):
        replay.step(transition(ids))
    other = ReplayBuffer(capacity=6)
    other.load_state_dict(replay.state_dict())
    a, b = replay.static_outputs["buffer"], other.static_outputs["buffer"]
    assert (a.pos, a.size) == (b.pos, b.size)
    for key in a.storage:
        assert torch.equal(a.storage[key], b.storage[key])
    replay.step(transition([10]))
    other.step(transition([10]))
    assert torch.equal(a.storage["reward"], b.storage["reward"])
    assert replay.report() == {"size": 6}


def test_a_transition_without_rows_stores_nothing():
    replay = ReplayBuffer(capacity=4)
    memory = replay.static_outputs["buffer"]
    replay.step(transition([1, 2]))
    replay.step(transition([]))
    assert (len(memory), memory.pos) == (2, 2)


def test_n_step_fields_are_stored_and_gathered():
    replay = ReplayBuffer(capacity=4)
    memory = replay.static_outputs["buffer"]
    t = transition([1, 2])
    replay.step(t._replace(reward=torch.tensor([[1.0, 2.0], [3.0, 0.0]]),
                           steps=torch.tensor([2, 1])))
    batch = memory.gather(torch.tensor([1, 0]))
    assert batch.reward.tolist() == [[3.0, 0.0], [1.0, 2.0]]
    assert batch.steps.tolist() == [1, 2] and batch.weights is None


def test_one_buffer_takes_one_kind_of_transition():
    replay = ReplayBuffer(capacity=4)
    replay.step(transition([1]))
    with pytest.raises(ValueError, match="one-step"):
        replay.step(transition([2])._replace(steps=torch.tensor([1])))


def test_rows_are_visible_at_once_though_written_in_batches():
    """ReplayMemory keeps added rows by reference and writes them in batches; every read
    (gather, storage, state_dict) sees every row added so far, across the ring's end."""
    replay = ReplayBuffer(capacity=700)
    memory = replay.static_outputs["buffer"]
    for i in range(1000):  # past the pending limit, and around the ring
        replay.step(transition([i]))
        if i in (5, 300, 699, 950):
            assert memory.gather(torch.tensor([i % 700])).reward.tolist() == [float(i)]
    assert (len(memory), memory.pos) == (700, 300)
    expected = [float(i) for i in range(700, 1000)] + [float(i) for i in range(300, 700)]
    assert memory.storage["reward"].tolist() == expected
    other = ReplayBuffer(capacity=700)
    replay.step(transition([1000, 1001]))  # pending when the state is taken
    other.load_state_dict(replay.state_dict())
    assert other.static_outputs["buffer"].gather(torch.tensor([300, 301])).reward.tolist() \
        == [1000.0, 1001.0]


def test_pending_rows_that_cross_the_ring_end_land_in_their_slots():
    replay = ReplayBuffer(capacity=10)
    memory = replay.static_outputs["buffer"]
    replay.step(transition([0, 1, 2, 3, 4, 5, 6]))
    memory.flush()
    replay.step(transition([7, 8, 9, 10, 11, 12]))  # slots 7, 8, 9, 0, 1, 2
    assert memory.storage["reward"].tolist() == [10, 11, 12, 3, 4, 5, 6, 7, 8, 9]
    assert memory.storage["next_obs"][:, 0].tolist() == [
        10.5, 11.5, 12.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]


def test_rows_of_another_shape_are_a_config_error_naming_the_buffer_and_field():
    """The rows are written later, in a batch; the mismatch is still reported as the
    buffer's, with the field and both shapes."""
    replay = ReplayBuffer(capacity=10, name="replay")
    memory = replay.static_outputs["buffer"]
    replay.step(transition([1, 2]))
    replay.step(transition([3], obs_dim=3))
    with pytest.raises(NodeConfigError) as info:
        memory.gather(torch.tensor([0]))
    assert info.value.node == "replay" and info.value.port == "transition"
    assert "field 'obs' has rows of shape (3,), but this buffer stores rows of shape (4,)" \
        in info.value.message


def test_rows_of_dtypes_numpy_lacks_are_stored():
    replay = ReplayBuffer(capacity=4)
    memory = replay.static_outputs["buffer"]
    half = transition([1, 2])
    replay.step(half._replace(obs=half.obs.bfloat16()))  # a bfloat16 field: torch writes it
    replay.step(transition([3]))  # float32 rows into the bfloat16 field
    assert memory.storage["obs"].dtype == torch.bfloat16
    assert memory.gather(torch.arange(3)).obs[:, 0].tolist() == [1.0, 2.0, 3.0]
