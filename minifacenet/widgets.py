"""The margin explorer's widget, kept here so that ``from minifacenet.widgets import MarginExplorer``
keeps working; it lives in :mod:`minifacenet.explorer`."""

from .explorer.cache import RECIPE_VERSION, cache_folder, trained_embeddings, trained_path
from .explorer.widget import RENDERERS, LatestOnly, MarginExplorer, choose_renderer, in_colab

__all__ = [
    "RECIPE_VERSION",
    "RENDERERS",
    "LatestOnly",
    "MarginExplorer",
    "cache_folder",
    "choose_renderer",
    "in_colab",
    "trained_embeddings",
    "trained_path",
]
