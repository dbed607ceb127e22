"""The margin explorer, one way round: controls (:mod:`.widget`) -> slider state ->
arrays (:mod:`.margins`) -> drawings (:mod:`.views`); :mod:`.cache` holds models trained at each m."""

from .cache import RECIPE_VERSION, cache_folder, trained_embeddings, trained_path
from .margins import (
    EXPLORER_LOSSES,
    CosineCache,
    Frame,
    Margin,
    Scene,
    compute_frame,
    margin_arcs,
    snapshot_data,
    sphere_regions,
    synthetic_2d,
    violation_mask,
)
from .widget import LatestOnly, MarginExplorer, choose_renderer, in_colab

__all__ = [
    "EXPLORER_LOSSES",
    "RECIPE_VERSION",
    "CosineCache",
    "Frame",
    "LatestOnly",
    "Margin",
    "MarginExplorer",
    "Scene",
    "cache_folder",
    "choose_renderer",
    "compute_frame",
    "in_colab",
    "margin_arcs",
    "snapshot_data",
    "sphere_regions",
    "synthetic_2d",
    "trained_embeddings",
    "trained_path",
    "violation_mask",
]
