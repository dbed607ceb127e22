"""Speed-only code, each beside the plain version it must equal (tests pin the pairs equal).

The lesson file :mod:`minifacenet.losses` keeps the formulas; what is here computes the same
numbers faster and is not needed to understand them.
"""

from __future__ import annotations

import torch


def triplet_mean_over_valid(dist, a, p, valid, margin: float, embeddings) -> torch.Tensor:
    """Fast :meth:`~minifacenet.losses.TripletLoss.listed_loss` for semi-hard and batch-all
    mining, without listing the triplets.

    The plain version: list every triplet ``(a_i, p_i, n)`` with ``valid[i, n]``, then take the
    mean of ``[d(a, p) - d(a, n) + margin]_+`` over them. Every semi-hard or batch-all triplet
    violates the margin, so its hinge is active and the sum splits into weights on the
    distance matrix:
    sum = sum_i count_i (d(a_i, p_i) + margin) - sum_{i, n} valid[i, n] d(a_i, n).
    Same value and gradient as averaging the listed triplets, at the cost of [N, N] ops.
    ``dist`` ``[N, N]``; ``a``, ``p`` ``[P]`` the positive pairs; ``valid`` ``[P, N]``.
    """
    negatives = valid.to(dist.dtype)  # [P, N] 1 where (a_i, p_i, n) is a triplet
    count = negatives.sum(1)  # [P] triplets per positive pair
    total = count.sum()
    if total == 0:
        # nothing to learn from this batch: an exact zero still attached to the graph
        return embeddings.sum() * 0.0
    # weight[a, n] = -(triplets with anchor a and negative n); weight[a_i, p_i] = count_i
    weight = torch.zeros_like(dist).index_add_(0, a, negatives).neg_()  # [N, N]
    weight[a, p] += count  # positive pairs are distinct, so no index repeats
    # summed in float64: the weighted terms cancel, and T can reach millions
    weighted = (weight.double() * dist.double()).sum()
    return (weighted / total.double()).to(dist.dtype) + margin
