"""The train rows and minibatch orders of one PPO update, as plain tensors (no ``SampleBatch`` slicing per minibatch).

RLlib's PPO learner connector appends one artificial timestep to every episode chunk (to bootstrap its value) and
masks it out of the loss with ``loss_mask``; RLlib's minibatch iterator then slices the masked rows along, so an
8192-step batch of 32 episode chunks becomes ~8,400 rows, ~33 minibatches per epoch, each with fewer than
``minibatch_size`` rows that count. Here masked rows are dropped once, before minibatching: every minibatch has
exactly ``minibatch_size`` rows of loss, and an epoch is ``rows // minibatch_size`` minibatches — the
cleanrl/stable-baselines3 recipe the expert configs are tuned on (32 x 10 = 320 Adam steps per 8192 steps).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from ray.rllib.core.columns import Columns

# Columns of RLlib's PPO train batch that neither the module's forward nor the PPO loss reads.
BOOKKEEPING_COLUMNS = frozenset({Columns.LOSS_MASK, Columns.TERMINATEDS, Columns.TRUNCATEDS, Columns.REWARDS,
                                 "weights_seq_no"})


def trainable_rows(module_batch: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """The batch's tensor columns the update reads, without the rows ``loss_mask`` excludes."""
    columns = {key: value for key, value in module_batch.items()
               if isinstance(value, torch.Tensor) and key not in BOOKKEEPING_COLUMNS}
    mask = module_batch.get(Columns.LOSS_MASK)
    if mask is None:
        return columns
    keep = torch.as_tensor(mask, dtype=torch.bool).nonzero().squeeze(-1)
    return {key: value.index_select(0, keep.to(value.device)) for key, value in columns.items()}


def minibatch_indices(rows: int, minibatch_size: int, num_epochs: int, *, shuffle: bool,
                      generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Row indices of each minibatch: ``num_epochs`` passes of ``rows // minibatch_size`` full minibatches
    (a new permutation per pass when ``shuffle``; the ``rows % minibatch_size`` left over sit that pass out)."""
    if rows < minibatch_size:
        raise ValueError(f"a PPO update got {rows} rows of loss, fewer than one minibatch ({minibatch_size})")
    per_epoch = rows // minibatch_size
    for _ in range(num_epochs):
        order = torch.randperm(rows, generator=generator) if shuffle else torch.arange(rows)
        yield from order[:per_epoch * minibatch_size].view(per_epoch, minibatch_size)
