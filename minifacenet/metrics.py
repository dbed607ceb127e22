"""Evaluation of embeddings: classification and nearest-neighbour accuracy.

(Verification, clustering and angle statistics for the faces lesson live here too.)
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def accuracy(predictions, labels) -> float:
    """Fraction of ``predictions`` equal to ``labels``."""
    return float((_numpy(predictions) == _numpy(labels)).mean())


def knn_accuracy(
    gallery, gallery_labels, probes, probe_labels, *, k: int = 1, metric: str = "euclidean"
) -> float:
    """Accuracy of k-nearest-neighbour recognition of ``probes`` against a ``gallery``."""
    knn = KNeighborsClassifier(n_neighbors=k, metric=metric)
    knn.fit(_numpy(gallery), _numpy(gallery_labels))
    return accuracy(knn.predict(_numpy(probes)), probe_labels)
