"""Pure figure functions: data and parameters in, a figure out (``ax=None`` draws a new one)."""

from __future__ import annotations

import matplotlib

matplotlib.use(matplotlib.get_backend() or "Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def plot_embeddings(
    embeddings,
    labels,
    *,
    ax=None,
    title: str | None = None,
    normalize: bool = False,
    max_points: int = 5000,
    seed: int = 0,
):
    """Scatter 2-D embeddings coloured by class (the first two coordinates if D > 2)."""
    x, y = _numpy(embeddings)[:, :2], _numpy(labels)
    if normalize:
        x = x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)
    if len(x) > max_points:
        keep = np.random.default_rng(seed).choice(len(x), max_points, replace=False)
        x, y = x[keep], y[keep]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    scatter = ax.scatter(x[:, 0], x[:, 1], c=y, cmap="tab10", s=3, alpha=0.7, linewidths=0)
    ax.legend(
        *scatter.legend_elements(),
        loc="upper right",
        fontsize=7,
        markerscale=0.8,
        title="class",
        title_fontsize=7,
    )
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax.figure
