"""DQNLoss and DoubleDQNLoss against hand-computed references, driven without a graph."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rlgraph.nodes.data import Batch
from rlgraph.nodes.losses import DoubleDQNLoss, DQNLoss

GAMMA = 0.9
# Q tables (state -> values of actions 0, 1, 2); states are one-hot observations
ONLINE = [[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [4.0, 0.0, 1.0], [0.0, 6.0, 2.0]]
TARGET = [[0.0, 1.0, 5.0], [2.0, 0.0, 1.0], [1.0, 3.0, 0.0], [7.0, 2.0, 1.0]]


def batch(rows: list[tuple[int, int, float, int, bool, bool]]) -> Batch:
    """rows of (state, action, reward, next_state, terminated, truncated)."""
    s, a, r, s2, term, trunc = zip(*rows)
    eye = torch.eye(4)
    return Batch(obs=eye[list(s)], action=torch.tensor(a), reward=torch.tensor(r),
                 next_obs=eye[list(s2)], terminated=torch.tensor(term),
                 truncated=torch.tensor(trunc), indices=torch.arange(len(rows)))


ROWS = [
    (0, 1, 1.0, 1, False, False),  # bootstraps
    (1, 2, -1.0, 2, True, False),  # terminated: reward only
    (2, 0, 0.5, 3, False, True),   # truncated: still bootstraps
    (3, 1, 2.0, 0, False, False),
]


def huber(x: float) -> float:
    return 0.5 * x * x if abs(x) < 1 else abs(x) - 0.5


@pytest.fixture
def nets(table_q):
    return table_q(ONLINE), table_q(TARGET)


def test_dqn_td_targets_with_done_mask_and_gamma(nets):
    q, target_q = nets
    out = DQNLoss(q=q, target_q=target_q, gamma=GAMMA).step(batch(ROWS))
    expected_targets, expected_losses = [], []
    for s, a, r, s2, term, _trunc in ROWS:
        bootstrap = 0.0 if term else GAMMA * max(TARGET[s2])
        expected_targets.append(r + bootstrap)
        expected_losses.append(huber(expected_targets[-1] - ONLINE[s][a]))
    preds = [ONLINE[s][a] for s, a, *_ in ROWS]
    assert out["td_error"].tolist() == pytest.approx(
        [t - p for t, p in zip(expected_targets, preds)])
    assert out["losses"].tolist() == pytest.approx(expected_losses)
    assert out["loss"].item() == pytest.approx(sum(expected_losses) / len(ROWS))


def test_mse_variant_squares_the_td_error(nets):
    q, target_q = nets
    out = DQNLoss(q=q, target_q=target_q, gamma=GAMMA, huber=False).step(batch(ROWS))
    assert out["losses"].tolist() == pytest.approx((out["td_error"] ** 2).tolist())


def test_gradient_reaches_the_q_network_only(nets):
    q, target_q = nets
    DQNLoss(q=q, target_q=target_q).step(batch(ROWS))["loss"].backward()
    assert q.table.grad is not None and q.table.grad.abs().sum() > 0
    assert target_q.table.grad is None


def test_without_target_network_next_values_come_from_q(nets):
    q, _ = nets
    out = DQNLoss(q=q, target_q=q, gamma=GAMMA).step(batch(ROWS[:1]))
    assert out["td_error"].item() == pytest.approx(1.0 + GAMMA * max(ONLINE[1]) - 2.0)
    out["loss"].backward()
    # semi-gradient: only Q(s, a) of the taken action gets a gradient
    assert q.table.grad.nonzero().tolist() == [[0, 1]]


def test_double_dqn_selects_with_q_and_evaluates_with_target(nets):
    q, target_q = nets
    out = DoubleDQNLoss(q=q, target_q=target_q, gamma=GAMMA).step(batch(ROWS))
    for (s, a, r, s2, term, _), err in zip(ROWS, out["td_error"].tolist()):
        best = max(range(3), key=lambda b: ONLINE[s2][b])  # online argmax ...
        bootstrap = 0.0 if term else GAMMA * TARGET[s2][best]  # ... target's value
        assert err == pytest.approx(r + bootstrap - ONLINE[s][a])
    # the rows where the choice matters: DQN would have used the target's own max
    dqn = DQNLoss(q=q, target_q=target_q, gamma=GAMMA).step(batch(ROWS))
    assert out["td_error"][0] < dqn["td_error"][0]  # next state 1: action 2 vs 0
    assert out["td_error"][3] < dqn["td_error"][3]  # next state 0: action 1 vs 2


def test_two_line_subclass_replaces_the_loss(nets):
    class MSELoss(DQNLoss):
        def td_loss(self, pred, target):
            return F.mse_loss(pred, target, reduction="none")

    q, target_q = nets
    custom = MSELoss(q=q, target_q=target_q, gamma=GAMMA).step(batch(ROWS))
    builtin = DQNLoss(q=q, target_q=target_q, gamma=GAMMA, huber=False).step(batch(ROWS))
    assert torch.allclose(custom["losses"], builtin["losses"])
    huber_loss = DQNLoss(q=q, target_q=target_q, gamma=GAMMA).step(batch(ROWS))
    assert not torch.allclose(custom["losses"], huber_loss["losses"])


def test_report_is_the_mean_of_recent_losses(nets):
    q, target_q = nets
    loss = DQNLoss(q=q, target_q=target_q)
    assert loss.report() == {}
    values = [loss.step(batch(ROWS[i:i + 1]))["loss"].item() for i in range(4)]
    assert loss.report()["loss"] == pytest.approx(sum(values) / 4)


def test_importance_weights_weigh_the_mean_but_not_the_per_sample_outputs(nets):
    q, target_q = nets
    plain = DQNLoss(q=q, target_q=target_q, gamma=GAMMA).step(batch(ROWS))
    weights = torch.tensor([1.0, 0.5, 0.25, 0.0])
    weighted = DQNLoss(q=q, target_q=target_q, gamma=GAMMA).step(
        batch(ROWS)._replace(weights=weights))
    assert torch.equal(weighted["losses"], plain["losses"])
    assert torch.equal(weighted["td_error"], plain["td_error"])  # the new priorities
    expected = sum(w * x for w, x in zip(weights.tolist(), plain["losses"].tolist())) / 4
    assert weighted["loss"].item() == pytest.approx(expected)


def n_step_batch(rows: list[tuple[int, int, list[float], int, bool, bool]], n: int) -> Batch:
    """rows of (state, action, rewards of the k steps, next_state, terminated, truncated)."""
    s, a, rewards, s2, term, trunc = zip(*rows)
    eye = torch.eye(4)
    padded = [r + [0.0] * (n - len(r)) for r in rewards]
    return Batch(obs=eye[list(s)], action=torch.tensor(a), reward=torch.tensor(padded),
                 next_obs=eye[list(s2)], terminated=torch.tensor(term),
                 truncated=torch.tensor(trunc), indices=torch.arange(len(rows)),
                 steps=torch.tensor([len(r) for r in rewards]))


N_STEP_ROWS = [
    (0, 1, [1.0, 2.0, 3.0], 1, False, False),  # a full 3-step window
    (1, 2, [1.0, -1.0], 2, True, False),       # terminated after 2 steps: rewards only
    (2, 0, [0.5, 4.0], 3, False, True),        # truncated after 2 steps: gamma^2 bootstrap
    (3, 1, [2.0], 0, False, True),             # truncated after 1 step: gamma^1
]


@pytest.mark.parametrize("loss_type", [DQNLoss, DoubleDQNLoss])
def test_n_step_targets_discount_rewards_and_bootstrap_with_the_loss_gamma(nets, loss_type):
    q, target_q = nets
    out = loss_type(q=q, target_q=target_q, gamma=GAMMA).step(n_step_batch(N_STEP_ROWS, 3))
    expected = []
    for s, a, rewards, s2, term, _trunc in N_STEP_ROWS:
        k = len(rewards)
        ret = sum(GAMMA ** i * r for i, r in enumerate(rewards))
        if loss_type is DQNLoss:
            next_value = max(TARGET[s2])
        else:  # the online network picks, the target values
            next_value = TARGET[s2][max(range(3), key=lambda b: ONLINE[s2][b])]
        expected.append(ret + (0.0 if term else GAMMA ** k * next_value) - ONLINE[s][a])
    assert out["td_error"].tolist() == pytest.approx(expected)


def test_one_step_transitions_as_n_step_rows_give_the_same_targets(nets):
    q, target_q = nets
    loss = DQNLoss(q=q, target_q=target_q, gamma=GAMMA)
    one = loss.step(batch(ROWS))["td_error"]
    as_n = loss.step(n_step_batch([(s, a, [r], s2, te, tr) for s, a, r, s2, te, tr in ROWS],
                                  n=1))["td_error"]
    assert torch.allclose(one, as_n)


def test_reported_loss_survives_a_state_round_trip(nets):
    q, target_q = nets
    first = DQNLoss(q=q, target_q=target_q, gamma=GAMMA)
    for rows in (ROWS, ROWS[:2], ROWS[2:]):
        first.step(batch(rows))
    resumed = DQNLoss(q=q, target_q=target_q, gamma=GAMMA)
    assert resumed.report() == {}
    resumed.load_state_dict(first.state_dict())
    assert resumed.report() == first.report()
    first.step(batch(ROWS[1:]))
    resumed.step(batch(ROWS[1:]))
    assert resumed.report()["loss"] == pytest.approx(first.report()["loss"])
