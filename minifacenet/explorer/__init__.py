"""The margin explorer, one way round: controls (:mod:`.widget`) -> a
:class:`~minifacenet.geometry.Margin` -> arrays (:mod:`minifacenet.frames`, from
:mod:`minifacenet.geometry`) -> drawings (:mod:`minifacenet.views`); :mod:`.cache` holds models
trained at each m."""

from .cache import (
    RECIPE_VERSION,
    TrainedModel,
    cache_folder,
    trained_embeddings,
    trained_path,
    trained_report,
)
from .widget import RENDERERS, LatestOnly, MarginExplorer, choose_renderer, in_colab

__all__ = [
    "RECIPE_VERSION",
    "RENDERERS",
    "LatestOnly",
    "MarginExplorer",
    "TrainedModel",
    "cache_folder",
    "choose_renderer",
    "in_colab",
    "trained_embeddings",
    "trained_path",
    "trained_report",
]
