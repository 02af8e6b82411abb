"""SumTree, PrioritizedMemory, PrioritizedReplay and PrioritizedSampler against reference
computations, driven without a graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlgraph.core import NodeConfigError
from rlgraph.nodes.data import Transition
from rlgraph.nodes.prioritized import (
    PrioritizedMemory,
    PrioritizedReplay,
    PrioritizedSampler,
    SumTree,
)
from rlgraph.nodes.replay import ReplayBuffer

# chi-square critical value for 99 degrees of freedom at p = 0.001 (scipy.stats.chi2.ppf)
CHI2_99_P001 = 148.23


def transition(ids: list[int]) -> Transition:
    """Rows tagged by id: obs = id, reward = id."""
    t = torch.tensor(ids, dtype=torch.float32)
    no = torch.zeros(len(ids), dtype=torch.bool)
    return Transition(obs=t[:, None], action=torch.tensor(ids) % 2, reward=t,
                      next_obs=t[:, None] + 0.5, terminated=no, truncated=no)


@pytest.mark.parametrize("capacity", [1, 5, 16, 300, 5000])
def test_sum_tree_finds_the_slot_whose_prefix_sums_bracket_the_mass(capacity):
    rng = np.random.default_rng(0)
    values = rng.random(capacity) * (rng.random(capacity) > 0.2)  # some zeros
    values[0] = 0.5
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), values)
    prefix = np.cumsum(values)
    assert tree.total == pytest.approx(prefix[-1])
    mass = rng.random(2000) * prefix[-1]
    expected = np.searchsorted(prefix, mass, side="right")  # prefix[i-1] <= m < prefix[i]
    assert np.array_equal(tree.find(mass), expected)
    assert (values[tree.find(mass)] > 0).all()  # empty slots are never found


def test_sum_tree_update_keeps_sums_exact_and_last_repeated_value_wins():
    tree = SumTree(1000)
    tree.update(np.arange(1000), np.ones(1000))
    tree.update(np.array([3, 3, 999]), np.array([5.0, 7.0, 0.0]))
    assert tree.get(np.array([3, 999])).tolist() == [7.0, 0.0]
    assert tree.total == 1000 - 1 + 7 - 1
    for level, rows in zip(tree.levels[:-1], tree._rows[1:]):
        assert np.allclose(level, rows.sum(axis=1))  # every inner node = sum of children


def filled_memory(priorities: np.ndarray, alpha: float, capacity: int = 1000
                  ) -> PrioritizedMemory:
    memory = PrioritizedMemory(capacity, alpha=alpha, eps=1e-6)
    memory.add(transition(list(range(len(priorities)))))
    memory.update_priorities(np.arange(len(priorities)), priorities - 1e-6)
    return memory


def test_sampling_follows_priority_to_the_alpha_chi_square():
    """10,000 draws from 100 slots: counts match P(i) = p_i^alpha / sum p^alpha."""
    rng = np.random.default_rng(7)
    priorities = rng.uniform(0.1, 5.0, size=100)
    alpha = 0.6
    memory = filled_memory(priorities, alpha)
    draws = np.concatenate([memory.sample(50, beta=0.4, rng=rng)[0] for _ in range(200)])
    counts = np.bincount(draws, minlength=100)
    p = priorities ** alpha / (priorities ** alpha).sum()
    expected = p * len(draws)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < CHI2_99_P001, chi2
    uniform = np.full(100, len(draws) / 100)  # the check can tell: uniform is rejected
    assert ((counts - uniform) ** 2 / uniform).sum() > 10 * CHI2_99_P001
    assert counts.sum() == 10_000 and draws.max() < 100


def test_importance_weights_are_n_p_to_the_minus_beta_over_the_batch_max():
    rng = np.random.default_rng(3)
    priorities = rng.uniform(0.1, 5.0, size=200)
    memory = filled_memory(priorities, alpha=0.7)
    indices, weights = memory.sample(32, beta=0.5, rng=rng)
    p = priorities ** 0.7 / (priorities ** 0.7).sum()
    w = (200 * p[indices]) ** -0.5
    assert weights == pytest.approx(w / w.max())
    assert weights.max() == pytest.approx(1.0)


def test_new_transitions_get_the_largest_priority_seen_so_far():
    memory = PrioritizedMemory(10, alpha=0.5, eps=0.01)
    memory.add(transition([0, 1]))
    assert memory.tree.get(np.array([0, 1])).tolist() == [1.0, 1.0]  # max starts at 1
    memory.update_priorities(np.array([0, 1]), np.array([-3.0, 0.5]))
    assert memory.max_priority == pytest.approx(3.01)  # |td| + eps
    assert memory.tree.get(np.array([1]))[0] == pytest.approx(0.51 ** 0.5)
    memory.add(transition([2]))
    assert memory.tree.get(np.array([2]))[0] == pytest.approx(3.01 ** 0.5)


def test_replay_updates_last_batch_priorities_before_storing_new_rows():
    replay = PrioritizedReplay(capacity=4, alpha=1.0, eps=1e-6)
    memory = replay.static_outputs["buffer"]
    replay.step(transition([0, 1, 2, 3]))
    sampled = memory.gather(torch.tensor([0, 2]))
    # slot 0 is overwritten this tick: its update must not land on the new row
    replay.step(transition([4]), td_error=torch.tensor([2.0, -0.5]), sampled=sampled)
    assert memory.storage["reward"].tolist() == [4.0, 1.0, 2.0, 3.0]
    assert memory.tree.get(np.arange(4)) == pytest.approx([2.0 + 1e-6, 1.0, 0.5 + 1e-6, 1.0])
    assert replay.report()["priority_updates"] == 1
    with pytest.raises(ValueError, match="3 td errors for a batch of 2"):
        replay.step(transition([5]), td_error=torch.zeros(3), sampled=sampled)
    # a batch whose loss did not run is no update; td errors without their batch (the
    # two wires with different delays) are an error, not priorities silently dropped
    replay.step(transition([5]), sampled=sampled)
    assert replay.report()["priority_updates"] == 1
    with pytest.raises(NodeConfigError, match="2 td errors for no sampled batch") as info:
        replay.step(transition([6]), td_error=torch.zeros(2))
    assert info.value.port == "td_error" and "same delay" in info.value.hint


def test_sampler_batches_carry_weights_and_beta_anneals_with_ticks():
    replay = PrioritizedReplay(capacity=100)
    sampler = PrioritizedSampler(buffer=replay.static_outputs["buffer"], batch_size=8,
                                 min_size=10, beta=0.4, beta_ticks=100, seed=1)
    replay.step(transition(list(range(9))))
    assert sampler.step() is None
    replay.step(transition([9]))
    batch = sampler.step()["batch"]
    assert batch.weights.dtype == torch.float32 and batch.weights.shape == (8,)
    assert torch.equal(batch.reward, batch.indices.float())  # rows match their slots
    assert torch.allclose(batch.weights, torch.ones(8))  # all at max priority
    assert sampler.report() == {"beta": pytest.approx(0.4)}
    sampler.clock.tick = 50
    sampler.step()
    assert sampler.report() == {"beta": pytest.approx(0.7)}
    sampler.clock.tick = 500
    sampler.step()
    assert sampler.report() == {"beta": pytest.approx(1.0)}


def test_sampler_needs_a_prioritized_buffer():
    plain = ReplayBuffer(capacity=10).static_outputs["buffer"]
    with pytest.raises(NodeConfigError, match="needs priorities") as info:
        PrioritizedSampler(buffer=plain)
    assert info.value.port == "buffer" and "PrioritizedReplay" in info.value.hint


def test_state_round_trip_resumes_the_same_batches():
    replay = PrioritizedReplay(capacity=50, alpha=0.6)
    memory = replay.static_outputs["buffer"]
    replay.step(transition(list(range(30))))
    memory.update_priorities(np.arange(30), np.linspace(0.1, 3.0, 30))
    sampler = PrioritizedSampler(buffer=memory, batch_size=16, seed=5)
    sampler.step()
    saved_replay, saved_sampler = replay.state_dict(), sampler.state_dict()
    first = sampler.step()["batch"]

    other = PrioritizedReplay(capacity=50, alpha=0.6)
    other.load_state_dict(saved_replay)
    resumed = PrioritizedSampler(buffer=other.static_outputs["buffer"], batch_size=16, seed=99)
    resumed.load_state_dict(saved_sampler)
    again = resumed.step()["batch"]
    assert torch.equal(first.indices, again.indices)
    assert torch.equal(first.weights, again.weights)
    assert other.static_outputs["buffer"].tree.total == pytest.approx(memory.tree.total)
    assert other.static_outputs["buffer"].max_priority == memory.max_priority


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_replay_nstep_per_loss_and_dueling_keep_their_tensors_on_cuda(cartpole_spec):
    from rlgraph.nodes.losses import DQNLoss
    from rlgraph.nodes.nets import DuelingMLP
    from rlgraph.nodes.nstep import NStep
    from rlgraph.nodes.selective import SelectiveBackprop
    net = DuelingMLP(spec=cartpole_spec, hidden=[8], device="cuda").static_outputs["module"]
    replay = PrioritizedReplay(capacity=64, device="cuda")
    memory = replay.static_outputs["buffer"]
    sampler = PrioritizedSampler(buffer=memory, batch_size=8, device="cuda")
    nstep, loss = NStep(n=2, device="cuda"), DQNLoss(q=net, target_q=net, device="cuda")
    select = SelectiveBackprop(batch_size=8, beta=0.0, device="cuda")
    ids = list(range(4))
    t = transition(ids)
    t = t._replace(obs=torch.randn(4, 4), next_obs=torch.randn(4, 4),
                   truncated=torch.tensor([True, False, False, False]))
    cuda = Transition(**{k: v.cuda() for k, v in t.items()})
    for _ in range(12):
        replay.step(nstep.step(cuda)["transition"])
    assert all(v.device.type == "cuda" for v in memory.storage.values())
    batch = sampler.step()["batch"]
    assert batch.indices.device.type == "cuda" and batch.weights.device.type == "cuda"
    out = loss.step(batch)
    assert out["loss"].device.type == "cuda"
    replay.step(nstep.step(cuda)["transition"], td_error=out["td_error"], sampled=batch)
    chosen = select.step(batch, out["losses"])["batch"]
    assert chosen.obs.device.type == "cuda"
