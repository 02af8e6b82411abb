"""RolloutBuffer, GAE, MinibatchSampler and PPOLoss, driven without a graph, against
numbers computed by hand."""

from __future__ import annotations

import pytest
import torch

from rlgraph.core import NodeConfigError
from rlgraph.nodes import GAE, Batch, MinibatchSampler, PPOLoss, Rollout, RolloutBuffer, Transition
from rlgraph.nodes.actor_critic import ActorCritic


def transition(t: int, envs: int = 2, done: tuple[bool, ...] = (),
               truncated: tuple[bool, ...] = ()) -> Transition:
    rows = torch.arange(envs, dtype=torch.float32) + 10 * t
    flags = torch.zeros(envs, dtype=torch.bool)
    return Transition(obs=rows[:, None], action=torch.zeros(envs, dtype=torch.int64),
                      reward=rows, next_obs=rows[:, None] + 10,
                      terminated=flags | torch.tensor(done or (False,) * envs),
                      truncated=flags | torch.tensor(truncated or (False,) * envs))


def test_the_buffer_emits_every_t_ticks_with_the_policys_numbers_then_starts_anew():
    buffer = RolloutBuffer(steps=3)
    outs = [buffer.step(transition(t), torch.full((2,), -float(t)), torch.full((2,), 0.5))
            for t in range(7)]
    assert [o is not None for o in outs] == [False, False, True, False, False, True, False]
    rollout = outs[2]["rollout"]
    assert isinstance(rollout, Rollout) and rollout.reward.shape == (3, 2)
    assert rollout.reward.tolist() == [[0, 1], [10, 11], [20, 21]]
    assert rollout.log_prob[:, 0].tolist() == [0, -1, -2] and rollout.obs.shape == (3, 2, 1)
    assert outs[5]["rollout"].reward[0].tolist() == [30, 31]  # the next one: fresh rows
    flat = rollout.flat()
    assert flat.reward.tolist() == [0, 1, 10, 11, 20, 21]  # time-major rows
    saved = buffer.state_dict()  # one row of the third rollout pending
    other = RolloutBuffer(steps=3)
    other.load_state_dict(saved)
    args = (torch.zeros(2), torch.zeros(2))
    assert other.step(transition(7), *args) is None
    assert other.step(transition(8), *args)["rollout"].reward[:, 0].tolist() == [60, 70, 80]


class TableValue(torch.nn.Module):
    """V(obs) = the observation's single feature (a value function known by hand)."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs[:, 0]


def test_gae_bootstraps_through_truncation_and_stops_at_termination():
    """One env, three steps: the episode is truncated after step 0 (bootstrap from its
    final observation), then step 2 terminates (no bootstrap)."""
    rollout = Rollout(
        obs=torch.tensor([[[1.0]], [[2.0]], [[3.0]]]),
        next_obs=torch.tensor([[[5.0]], [[3.0]], [[7.0]]]),  # 5: step 0's final obs
        reward=torch.tensor([[1.0], [0.5], [2.0]]),
        terminated=torch.tensor([[False], [False], [True]]),
        truncated=torch.tensor([[True], [False], [False]]),
        value=torch.tensor([[1.0], [2.0], [3.0]]))
    gamma, lam = 0.9, 0.8
    out = GAE(module=TableValue(), gamma=gamma, lam=lam).step(rollout)["rollout"]
    delta2 = 2.0 - 3.0  # terminated: no bootstrap
    delta1 = 0.5 + gamma * 3.0 - 2.0
    delta0 = 1.0 + gamma * 5.0 - 1.0  # truncated: bootstrap from the final obs
    a2 = delta2
    a1 = delta1 + gamma * lam * a2
    a0 = delta0  # the episode ended here: nothing carried back across it
    assert out.advantage[:, 0].tolist() == pytest.approx([a0, a1, a2])
    assert out.returns[:, 0].tolist() == pytest.approx([a0 + 1.0, a1 + 2.0, a2 + 3.0])


def test_the_sampler_emits_epochs_of_shuffled_minibatches_and_stops_on_kl():
    rollout = Rollout(**{k: v.unsqueeze(1) for k, v in transition(0, envs=10).fields()
                         .items()}).replace(reward=torch.arange(10.0).reshape(10, 1))
    sampler = MinibatchSampler(epochs=2, minibatches=3, repeat=6, seed=0)
    batches = [sampler.step(rollout)["batch"] for _ in range(6)]
    assert [b.reward.shape[0] for b in batches] == [4, 3, 3, 4, 3, 3]
    for epoch in (batches[:3], batches[3:]):  # every row once per epoch
        assert sorted(torch.cat([b.reward for b in epoch]).tolist()) == list(range(10))
    assert batches[0].reward.tolist() != batches[3].reward.tolist()  # reshuffled
    assert sampler.step(rollout) is None  # this rollout is used up
    early = MinibatchSampler(epochs=2, minibatches=3, repeat=6, target_kl=0.01)
    assert early.step(rollout, kl=None) is not None
    assert early.step(rollout, kl=0.005) is not None
    assert early.step(rollout, kl=0.02) is None and early.step(rollout, kl=None) is None
    assert early.report() == {"early_stops": 1.0, "epochs": pytest.approx(2 / 3)}
    fresh = Rollout(**rollout.fields())  # a new rollout starts over
    assert early.step(fresh) is not None
    with pytest.raises(NodeConfigError, match="repeat 1 does not match 2 epochs x 3") as info:
        MinibatchSampler(epochs=2, minibatches=3)
    assert info.value.hint == "set repeat: 6 on this node"


def test_the_ppo_loss_is_the_clipped_surrogate_by_hand():
    """A fixed two-action policy: logits 0 and log 3, so pi = (1/4, 3/4) everywhere."""
    net = ActorCritic(torch.nn.Flatten(), torch.nn.Linear(1, 2), torch.nn.Linear(1, 1),
                      None, ())
    with torch.no_grad():
        net.actor.weight.zero_()
        net.actor.bias.copy_(torch.tensor([0.0, torch.log(torch.tensor(3.0))]))
        net.critic.weight.zero_()
        net.critic.bias.fill_(1.0)  # V = 1
    batch = Batch(obs=torch.zeros(2, 1), action=torch.tensor([0, 1]),
                  log_prob=torch.log(torch.tensor([0.5, 0.5])),
                  value=torch.tensor([0.0, 2.0]), advantage=torch.tensor([1.0, -1.0]),
                  returns=torch.tensor([2.0, 0.0]))
    loss = PPOLoss(module=net, clip=0.2, vf_coef=0.5, ent_coef=0.1,
                   normalize_advantage=False)
    out = loss.step(batch)
    ratio = torch.tensor([0.25 / 0.5, 0.75 / 0.5])  # 0.5 and 1.5
    adv = torch.tensor([1.0, -1.0])
    policy = torch.max(-adv * ratio, -adv * ratio.clamp(0.8, 1.2)).mean()
    value = ((1.0 - 2.0) ** 2 + (1.0 - 0.0) ** 2) / 2
    entropy = -(0.25 * torch.log(torch.tensor(0.25)) + 0.75 * torch.log(torch.tensor(0.75)))
    assert out["loss"].item() == pytest.approx((policy + 0.5 * value - 0.1 * entropy).item(),
                                               rel=1e-5)
    kl = ((ratio - 1) - torch.log(ratio)).mean()
    assert out["approx_kl"] == pytest.approx(kl.item(), rel=1e-5)
    out["loss"].backward()  # a loss with gradient for the optimizer
    assert net.actor.bias.grad is not None
    report = loss.report()
    assert report["clip_fraction"] == pytest.approx(1.0)  # both ratios beyond 0.2
    clipped = PPOLoss(module=net, clip=0.2, clip_value=0.5, normalize_advantage=False)
    v_clipped = [(0.0 + 0.5 - 2.0) ** 2, (2.0 - 0.5 - 0.0) ** 2]  # V moved 0.5 at most
    expected = max((1.0 - 2.0) ** 2, v_clipped[0]) + max((1.0 - 0.0) ** 2, v_clipped[1])
    assert clipped.step(batch)["loss"].item() == pytest.approx(
        policy.item() + 0.5 * expected / 2, rel=1e-5)
