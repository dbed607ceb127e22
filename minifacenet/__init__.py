"""minifacenet: the losses that made open-set face recognition work, small enough to read."""

from .losses import (
    ArcFace,
    CombinedMargin,
    ContrastiveLoss,
    CosFace,
    Loss,
    MarginHead,
    NormFace,
    Softmax,
    SphereFace,
    TripletLoss,
    build_loss,
)
from .models import EmbeddingNet

__version__ = "0.1.0"
__all__ = [
    "ArcFace",
    "CombinedMargin",
    "ContrastiveLoss",
    "CosFace",
    "EmbeddingNet",
    "Loss",
    "MarginHead",
    "NormFace",
    "Softmax",
    "SphereFace",
    "TripletLoss",
    "build_loss",
]
