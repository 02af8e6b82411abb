"""Selective backprop: train only on the samples whose loss is high."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from rlgraph.core import In, Kind, Node, Out, Param, register, saved

from .data import Batch


@register
class SelectiveBackprop(Node):
    """Passes on only high-loss samples, so that backward passes go where they matter.

    Sits between a scoring loss (per-sample `losses`, no optimizer) and the training
    loss: sample -> score -> select -> loss -> optim. Scored rows are pooled; when the
    pool is ready a batch of `batch_size` rows is emitted, otherwise nothing (and the
    training loss and optimizer skip). Two selection rules:

    - `top` (the seeds' LazyNetwork): pool every scored row; once `patience` rows are
      pooled, emit the `batch_size` with the largest losses and empty the pool.
    - `percentile` (Jiang et al. 2019, "Accelerating deep learning by focusing on the
      biggest losers"): keep each row with probability F(loss)^beta, F the fraction of
      the last `history` scored losses at or below it; emit once `batch_size` rows are
      kept (the rest wait for the next batch).

    With the defaults both rules backprop about a quarter of the scored rows (E[U^3] =
    1/4; 64 of 256). Reports `trainings` (batches emitted) and `backprop_fraction`
    (rows trained / rows scored).
    """

    inputs = {
        "batch": In(Kind.BATCH, "the scored batch"),
        "losses": In(Kind.TENSOR, "its per-sample losses, (rows,), e.g. a scoring "
                     "loss's `losses`"),
    }
    outputs = {"batch": Out(Kind.BATCH, "batch_size selected rows, when ready; else absent")}
    params = {
        "rule": Param(str, "percentile", "how rows are chosen: 'percentile' (the paper) or "
                      "'top' (the seeds' LazyNetwork)", choices=("percentile", "top")),
        "batch_size": Param(int, 64, "rows per emitted batch", low=1),
        "patience": Param(int, 256, "rule top: rows pooled before the largest losses "
                          "are chosen", low=1),
        "history": Param(int, 1024, "rule percentile: recent losses that rank a new one",
                         low=1),
        "beta": Param(float, 3.0, "rule percentile: keep probability = percentile^beta; "
                      "0 keeps all", low=0.0),
    }

    rule: str
    batch_size: int
    patience: int
    history: int
    beta: float

    def setup(self) -> None:
        if self.rule == "top" and self.patience < self.batch_size:
            self.fail(f"patience {self.patience} < batch_size {self.batch_size}: too few "
                      f"rows pooled to choose a batch from",
                      hint="set patience to a multiple of batch_size, e.g. 4x")
        self.generator = torch.Generator().manual_seed(self.seed)
        self.recent = torch.empty(0)  # the last `history` scored losses (CPU)
        self.pool: list[tuple[Batch, torch.Tensor]] = []
        self.pooled = 0
        self.scored = 0
        self.trained = 0
        self.trainings = 0
        rules: dict[str, Callable[[Batch, torch.Tensor], Batch | None]] = {
            "top": self._top, "percentile": self._percentile}
        self._select = rules[self.rule]

    def step(self, batch: Batch, losses: torch.Tensor) -> dict[str, Batch] | None:
        losses = losses.detach()
        self.scored += losses.shape[0]
        chosen = self._select(batch, losses)
        if chosen is None:
            return None
        self.trained += chosen.action.shape[0]
        self.trainings += 1
        return {"batch": chosen}

    def _top(self, batch: Batch, losses: torch.Tensor) -> Batch | None:
        self._add_to_pool(batch, losses)
        if self.pooled < self.patience:
            return None
        rows, pooled_losses = self._take_pool()
        return rows.rows(pooled_losses.topk(self.batch_size).indices)

    def _percentile(self, batch: Batch, losses: torch.Tensor) -> Batch | None:
        cpu = losses.cpu()
        self.recent = torch.cat((self.recent, cpu))[-self.history:]
        percentile = (self.recent[None, :] <= cpu[:, None]).double().mean(dim=1)
        draw = torch.rand(cpu.shape[0], generator=self.generator, dtype=torch.float64)
        keep = draw < percentile ** self.beta
        if keep.any():
            index = keep.nonzero().squeeze(1).to(losses.device)
            self._add_to_pool(batch.rows(index), losses[index])
        if self.pooled < self.batch_size:
            return None
        rows, pooled_losses = self._take_pool()
        if pooled_losses.shape[0] > self.batch_size:  # keep the rest for the next batch
            rest = slice(self.batch_size, None)
            self._add_to_pool(rows.rows(rest), pooled_losses[rest])
        return rows.rows(slice(self.batch_size))

    def _add_to_pool(self, batch: Batch, losses: torch.Tensor) -> None:
        self.pool.append((batch, losses))
        self.pooled += losses.shape[0]

    def _take_pool(self) -> tuple[Batch, torch.Tensor]:
        """All pooled rows as one batch with their losses; empties the pool."""
        batch = Batch.concat([b for b, _ in self.pool])
        losses = torch.cat([scored for _, scored in self.pool])
        self.pool, self.pooled = [], 0
        return batch, losses

    def report(self) -> dict[str, float]:
        fraction = self.trained / self.scored if self.scored else 0.0
        return {"trainings": self.trainings, "backprop_fraction": fraction}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "recent": self.recent.clone(),
                "pool": list(self.pool), "scored": self.scored, "trained": self.trained,
                "trainings": self.trainings}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.recent = state["recent"].clone()
        self.pool = list(state["pool"])
        self.pooled = sum(scored.shape[0] for _, scored in self.pool)
        self.scored, self.trained = saved.count(state, "scored"), saved.count(state, "trained")
        self.trainings = saved.count(state, "trainings")
