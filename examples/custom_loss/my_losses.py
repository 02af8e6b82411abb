"""The two-line loss swap: DQN with a squared-error TD loss instead of Huber."""

import torch.nn.functional as F

from rlgraph.nodes.losses import DQNLoss


class MSELoss(DQNLoss):
    def td_loss(self, pred, target):
        return F.mse_loss(pred, target, reduction="none")
