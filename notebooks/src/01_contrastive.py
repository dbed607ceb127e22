# %% [markdown]
# # 01 · Contrastive loss: learning a distance from pairs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/01_contrastive.ipynb)
#
# **What you will learn**
# - why open-set recognition needs a *distance*, not a classifier, and how a Siamese network learns one from pairs;
# - the contrastive loss $L = y\,d^2 + (1-y)\max(0, m-d)^2$, written by hand and checked against the library;
# - how the distances of positive and negative pairs of digits the network never saw move apart;
# - what the margin $m$ does: negative pairs farther than $m$ stop contributing to the loss;
# - the contrastive row of the open-set scoreboard (trained on digits 0–6, measured on 7–9).
#
# Previous: [00 · Softmax features are angular](00_softmax_features.ipynb) · Next: [02 · Triplet loss](02_triplet.ipynb)

# %%
# Setup. In Colab, install minifacenet (an uploaded wheel, else the repository); locally it is installed.
import glob
import subprocess
import sys

import matplotlib.pyplot as plt
import plotly.io as pio

try:
    import google.colab  # noqa: F401

    IN_COLAB = True
except ImportError:
    IN_COLAB = False
if IN_COLAB:
    # Until the repository is public, upload a wheel beside the notebook (README, "Colab"): it is found here.
    wheels = sorted(glob.glob("minifacenet-*.whl"))
    package = wheels[-1] if wheels else "minifacenet @ git+https://github.com/minifacenet/minifacenet@main"
    if subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package]).returncode != 0:
        sys.exit("minifacenet did not install: upload the wheel built by `pip wheel --no-deps -w dist .` "
                 "(minifacenet-*.whl, see the README) beside this notebook, or install it from the repository")
# One look for every figure of the course. Plotly: Colab needs its own renderer; JupyterLab,
# Notebook 7 and VS Code draw the plotly mimetype (GitHub shows the matplotlib twin beside it).
plt.rcParams.update({"figure.dpi": 80, "font.size": 10, "axes.titlesize": 11, "legend.fontsize": 8})
pio.renderers.default = "colab" if IN_COLAB else "plotly_mimetype"

# %%
FAST = False  # True: a shortened run, about 0.5 min on a 2-core CPU; False: the full lesson, about 1 min
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from ipywidgets import FloatSlider, interact

from minifacenet.data import mnist, pk_batches
from minifacenet.losses import ContrastiveLoss, contrastive_pairs
from minifacenet.metrics import knn_accuracy, pair_scores
from minifacenet.models import EmbeddingNet
from minifacenet.openset import (
    SEEN_DIGITS,
    Scoreboard,
    format_report,
    loss_metric,
    openset_report,
    split_by_class,
)
from minifacenet.train import embed, fit, seed_everything
from minifacenet.viz import plot_embeddings

# MINIFACENET_FAST=1 or 0 (CI, the build script) overrides the FAST line at the top of this cell.
FAST = {"1": True, "0": False}.get(os.environ.get("MINIFACENET_FAST"), FAST)
SEED = int(os.environ.get("MINIFACENET_SEED", "0"))  # the course's asserts hold for other seeds too
seed_everything(SEED)
TRAIN_SIZE = 4000 if FAST else 20000
TEST_SIZE = 1000 if FAST else 5000
EPOCHS = 2 if FAST else 4
MARGIN = 1.0
SEEN = len(SEEN_DIGITS)  # train on digits 0-6; 7, 8, 9 are the strangers
PAIR_COLORS = {"positive": "black", "negative": "darkgray"}  # not digit colours
print(f"fast mode: {FAST}")

# %% [markdown]
# ## The idea
#
# A classifier answers "which of the *training* classes is this?". Face recognition is **open-set**: the
# people at test time were never seen in training. What transfers is a *distance*: two images of the same
# person should map to nearby points, two of different people to distant points. A **Siamese network** is one
# embedding network $f$ applied to both images of a pair; the loss sees only the distance
# $d = \lVert f(x_1) - f(x_2) \rVert_2$ and the label $y$ (1 = same class, 0 = different):
#
# $$L(x_1, x_2, y) = y\, d^2 + (1 - y)\, \max(0,\; m - d)^2 .$$
#
# - A **positive pair** ($y = 1$) is pulled together: its loss $d^2$ is zero only at $d = 0$.
# - A **negative pair** ($y = 0$) is pushed apart until it is $m$ apart. Beyond the margin its loss and
#   gradient are zero: no effort is wasted on pairs already far enough apart.
#
# (Hadsell, Chopra & LeCun 2006; their form has a factor ½ and the opposite label convention.)

# %% [markdown]
# ## The loss, written by hand
#
# The one new method of this notebook, checked against `minifacenet.losses.ContrastiveLoss` on the same
# random pairs.

# %%
def contrastive_loss(x1: torch.Tensor, x2: torch.Tensor, same: torch.Tensor, *, margin: float) -> torch.Tensor:
    """mean( y d^2 + (1 - y) max(0, margin - d)^2 ),  d = |x1 - x2|."""
    # distance of each pair: [N, D] -> [N]
    d = (x1 - x2).norm(dim=1)
    y = same.float()
    # positives pulled to 0; negatives pushed out to the margin
    return (y * d**2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2).mean()


# %%
# NBVAL_CHECK_OUTPUT
generator = torch.Generator().manual_seed(0)
x1, x2 = torch.randn(64, 2, generator=generator), torch.randn(64, 2, generator=generator)
same = torch.rand(64, generator=generator) < 0.5
ours = contrastive_loss(x1, x2, same, margin=MARGIN)
library = ContrastiveLoss(margin=MARGIN).pair_loss(x1, x2, same)
torch.testing.assert_close(ours, library)
print(f"by hand: {ours.item():.4f}   library: {library.item():.4f}")

# %% [markdown]
# The loss against the distance $d$: a parabola for positive pairs; for negative pairs a parabola that reaches
# zero at the margin. The figure function is *pure* (parameters in, figure out); the slider further down calls it
# again with a new $m$.

# %%
def plot_contrastive_curve(*, margin: float, ax=None, d_max: float = 3.0):
    """The contrastive loss against d for a positive and a negative pair, margin marked."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    d = np.linspace(0, d_max, 300)
    ax.plot(d, d**2, color=PAIR_COLORS["positive"], label="positive pair: $d^2$")
    ax.plot(d, np.clip(margin - d, 0, None) ** 2, color=PAIR_COLORS["negative"], linewidth=2.5,
            label="negative pair: $\\max(0, m-d)^2$")
    ax.axvline(margin, color="black", linestyle="--", linewidth=1, label=f"margin m = {margin:.2f}")
    ax.set(xlabel="distance d", ylabel="loss", title="Contrastive loss of one pair", ylim=(0, 4), xlim=(0, d_max))
    ax.legend(loc="upper right")
    return ax.figure


plot_contrastive_curve(margin=MARGIN)
plt.show()

# %% [markdown]
# ## Pairs from P×K batches
#
# Training uses batches of P classes × K images each. `ContrastiveLoss` forms its pairs from such a batch
# (`losses.contrastive_pairs`): every image is paired with the next image of its own block (a positive) and
# with the image in the same slot of the next block (a negative). A few of each, from the seen digits 0–6:

# %%
train_split = split_by_class(*mnist(train=True))  # digits 0-6 (labels 0..6); 7-9 held out
x_train, y_train = train_split.seen_images[:TRAIN_SIZE], train_split.seen_labels[:TRAIN_SIZE]
x_test, y_test = mnist(train=False)
x_test, y_test = x_test[:TEST_SIZE], y_test[:TEST_SIZE]  # all ten digits
seen_test = y_test < SEEN

# one P x K batch of 4 classes x 3 images; pair indices instead of embeddings
batch = next(pk_batches(y_train, classes_per_batch=4, samples_per_class=3, generator=torch.Generator().manual_seed(1)))
index = torch.arange(len(batch), dtype=torch.float32)[:, None]
first, second, batch_same = contrastive_pairs(index, y_train[batch])
first, second = first.long().flatten(), second.long().flatten()

fig, axes = plt.subplots(2, 6, figsize=(9, 3.4))
for column, pair in enumerate([0, 4, 8, 12, 16, 20]):
    for row, member in enumerate([first[pair], second[pair]]):
        axes[row, column].imshow(x_train[batch[member], 0], cmap="gray_r")
        axes[row, column].axis("off")
    axes[0, column].set_title("positive" if batch_same[pair] else "negative", fontsize=10)
fig.suptitle("Pairs from one P×K batch (top: first image, bottom: its partner)")
plt.show()

# %% [markdown]
# ## Training a Siamese network on digits 0–6
#
# We measure the distances of **every pair among test digits 7–9**, which the network never sees, train with
# the contrastive loss (2-D embeddings, so we can look at them) and measure again.

# %%
def pair_distances(embeddings: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Euclidean distance of each pair (i[k], j[k]): [P]."""
    return (embeddings[i] - embeddings[j]).norm(dim=1)


loss = ContrastiveLoss(margin=MARGIN)
model = EmbeddingNet(embedding_dim=2, widths=(16, 32, 64), hidden=64)
emb_before = embed(model, x_test)
# every pair among (up to) 300 unseen test digits: indices into x_test and same-digit flags
unseen_index = torch.nonzero(~seen_test).flatten()[:300]
_, same_digit, pairs = pair_scores(emb_before[unseen_index], y_test[unseen_index])
pair_i, pair_j = unseen_index[pairs[:, 0]], unseen_index[pairs[:, 1]]
pair_same = torch.as_tensor(same_digit)
dist_before = pair_distances(emb_before, pair_i, pair_j)

# %%
# the course recipe (minifacenet.recipe), in P x K batches: 7 digits x 14 images
history = fit(model, loss, x_train, y_train, epochs=EPOCHS, batch_size=98, classes_per_batch=SEEN, seed=SEED,
              progress=False)
emb_after = embed(model, x_test)
dist_after = pair_distances(emb_after, pair_i, pair_j)
print("loss per epoch:", [round(value, 4) for value in history["loss"]])

# %% [markdown]
# Before training the untrained network maps every digit to almost the same point: all distances are tiny,
# positives and negatives overlap. After, pairs of the same unseen digit are closer on average than pairs of
# different ones, although no 7, 8 or 9 was ever trained on. How well a threshold separates them is measured below.

# %%
def plot_distance_histograms(distances: torch.Tensor, same: torch.Tensor, *, margin=None, ax=None, title=""):
    """Histograms of pair distances, positives vs negatives, with the margin marked (if given)."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    bins = np.linspace(0, float(distances.max()) * 1.05, 40)
    # negatives filled light, positives as a black outline: where they overlap, both stay readable
    ax.hist(distances[~same].numpy(), bins=bins, density=True, color=PAIR_COLORS["negative"], label="negative pairs")
    ax.hist(distances[same].numpy(), bins=bins, density=True, histtype="step", linewidth=1.5,
            color=PAIR_COLORS["positive"], label="positive pairs")
    if margin is not None:
        ax.axvline(margin, color="black", linestyle="--", linewidth=1, label=f"margin m = {margin:.2f}")
    ax.set(xlabel="distance d", ylabel="density", title=title)
    ax.legend(loc="upper right")
    return ax.figure


fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
plot_distance_histograms(dist_before, pair_same, ax=axes[0], title="Unseen digits, before training (tiny scale)")
plot_distance_histograms(dist_after, pair_same, margin=MARGIN, ax=axes[1], title=f"Unseen digits, after {EPOCHS} epochs")
plt.tight_layout()
plt.show()

# %% [markdown]
# The embedding of all test digits. No class was ever named to the network, only "same" or "different"; still
# the seen digits form clusters. The unseen 7, 8, 9 land where they can, partly on top of each other and of the
# seen clusters: the plane is crowded, and only the distances they keep can help.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
plot_embeddings(emb_before, y_test, ax=axes[0], title="2-D embeddings before training")
plot_embeddings(emb_after, y_test, ax=axes[1], title="after contrastive training on digits 0-6")
for ax in axes:
    ax.set(xlabel="embedding dimension 1", ylabel="embedding dimension 2")
    ax.get_legend().set_loc("upper left")
    ax.get_legend().set_bbox_to_anchor((1.0, 1.0))  # beside the data, not on it
plt.tight_layout()
plt.show()

# %% [markdown]
# ## How well does it recognise strangers?
#
# The open-set report (notebook 00) on the unseen digits 7–9, scored by the distance this loss trains: the
# **Euclidean** distance of raw embeddings (`openset.loss_metric`). Beside it, the closed-set number: 5-NN
# accuracy of seen test digits against 2000 seen training digits.

# %%
from minifacenet.lesson import add_lesson_row  # the row: trained under the lessons' one setting
from minifacenet.recipe import LESSON_RUN

report = openset_report(emb_after[~seen_test], y_test[~seen_test], metric=loss_metric(loss))
untrained = openset_report(emb_before[~seen_test], y_test[~seen_test], metric=loss_metric(loss))
knn = knn_accuracy(embed(model, x_train[:2000]), y_train[:2000], emb_after[seen_test], y_test[seen_test], k=5)
gap_before = dist_before[~pair_same].mean() / dist_before[pair_same].mean()
gap_after = dist_after[~pair_same].mean() / dist_after[pair_same].mean()
print(format_report(report))
print(f"the untrained network: AUC {untrained['auc']:.1%}")
print(f"closed set: 5-NN accuracy on digits 0-6 {knn:.3f}")
print(f"unseen digits, negative/positive mean distance: {gap_before:.2f} before, {gap_after:.2f} after")
lesson_run = LESSON_RUN["fast" if FAST else "full"]  # the same images, epochs, network, recipe
# the scoreboard's row: contrastive trained under the lessons' one setting, paired with softmax trained alike
board = Scoreboard()
add_lesson_row(board, "contrastive", run=lesson_run, seed=SEED, margin=MARGIN, note="notebook 01")
display(Markdown(board.markdown(upto="contrastive")))
# Checks that fail the notebook if training did not work (valid in fast mode too).
assert history["loss"][-1] < history["loss"][0], "the loss did not decrease"
assert gap_after > max(1.0, gap_before), "pairs of unseen digits did not move apart"
assert report["auc"] > max(0.55, untrained["auc"]), f"unseen-digit AUC {report['auc']:.3f}: no better than untrained"
assert knn > (0.5 if FAST else 0.85), f"k-NN accuracy {knn:.3f} is too low"

# %% [markdown]
# > **Misconception: the margin is the threshold for "same person".** The margin $m$ exists only at training
# > time: it says when a negative pair stops teaching. At test time the threshold on $d$ is chosen on pairs, for
# > the false-accept rate you can afford (the report's verification accuracy picks it on 9 folds and tests it on
# > the tenth); it need not be anywhere near $m$.
#
# ## Interactive: move the margin
#
# The figure function below draws, for one margin $m$: the loss curve, the histogram of unseen-digit pair
# distances, and the embedding with up to 150 negative pairs as segments, **black if closer than $m$** (they
# still contribute to the loss) and light grey beyond it (zero loss, zero gradient). A larger margin keeps more
# negative pairs "active". The network was trained with $m = 1$.

# %%
def plot_margin_view(*, margin: float, embeddings, i, j, same, labels, max_segments: int = 150):
    """Loss curve, pair-distance histogram and the embedding's negative pairs for one margin."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    plot_contrastive_curve(margin=margin, ax=axes[0])
    distances = pair_distances(embeddings, i, j)
    plot_distance_histograms(distances, same, margin=margin, ax=axes[1], title="Unseen-digit pair distances")
    negatives = torch.nonzero(~same).flatten()
    negatives = negatives[torch.linspace(0, len(negatives) - 1, max_segments).long()]  # spread over all pairs
    inside = distances[negatives] < margin
    x = embeddings.numpy()
    axes[2].scatter(x[:, 0], x[:, 1], c=labels.numpy(), cmap="tab10", vmin=0, vmax=9, s=2, alpha=0.4)
    for k, active in zip(negatives.tolist(), inside.tolist(), strict=True):
        a, b = x[i[k]], x[j[k]]
        axes[2].plot([a[0], b[0]], [a[1], b[1]], color="black" if active else "lightgray",
                     linewidth=0.8 if active else 0.4, zorder=3 if active else 1)
    share = float((distances[~same] < margin).float().mean())
    axes[2].set(title=f"negative pairs closer than m: {share:.0%}", xlabel="dimension 1", ylabel="dimension 2")
    axes[2].set_aspect("equal")
    plt.tight_layout()
    return fig


plot_margin_view(margin=MARGIN, embeddings=emb_after, i=pair_i, j=pair_j, same=pair_same, labels=y_test)
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
def show_margin_view(margin):
    """Draw and show (returns nothing: a returned figure is drawn twice, and stacked in Colab)."""
    plot_margin_view(margin=margin, embeddings=emb_after, i=pair_i, j=pair_j, same=pair_same, labels=y_test)
    plt.show()


margin_widget = interact(
    show_margin_view,
    margin=FloatSlider(value=MARGIN, min=0.1, max=3.0, step=0.1, description="margin m", continuous_update=False),
)

# %% [markdown]
# ## What to remember
# - Open-set recognition needs an embedding with a meaningful distance; a Siamese network learns one from
#   "same / different" pairs, never seeing class names, and it carries over to digits it never saw.
# - Contrastive loss: pull positives together ($d^2$), push negatives apart until they are $m$ apart.
# - Negatives beyond the margin give zero gradient: as training goes on, fewer pairs teach anything.
# - The margin is a training knob, not the test-time threshold; without normalisation its meaning depends on the
#   scale of the embedding.

# %% [markdown]
# ## Going further
#
# ### At full scale (closed set)
#
# The notebook trains on a subset for a few epochs. The same loss trained by the command-line tool on all 60 000
# training digits, all ten classes (one seed, measured; every run in `docs/results.md`):
#
# | loss | 2-D 1-NN test accuracy | command |
# |---|---|---|
# | contrastive (margin 1) | 98.88 % | `python -m minifacenet train --loss contrastive --dim 2 --margin 1 --epochs 10` |

# %% [markdown]
# ## Exercises
#
# **1.** Train again with `margin=3.0` (same data, same epochs). Compare the negative/positive
# distance ratio and the open-set report. Does a larger margin help, and what happens to the scale
# of the embedding?
#
# <details><summary>Solution</summary>
#
# ```python
# model3 = EmbeddingNet(embedding_dim=2, widths=(16, 32, 64), hidden=64)
# loss3 = ContrastiveLoss(margin=3.0)
# fit(model3, loss3, x_train, y_train, epochs=EPOCHS, batch_size=98, classes_per_batch=SEEN, seed=SEED, progress=False)
# emb3 = embed(model3, x_test)
# d3 = pair_distances(emb3, pair_i, pair_j)
# print(d3[~pair_same].mean() / d3[pair_same].mean())
# print(format_report(openset_report(emb3[~seen_test], y_test[~seen_test], metric=loss_metric(loss3))))
# print(emb3.norm(dim=1).mean(), emb_after.norm(dim=1).mean())
# ```
# Distances are not normalised, so the network can satisfy a larger margin by scaling the whole
# embedding up; compare the mean feature norms printed last. A margin only means something relative
# to the scale of the embedding, which is one reason later losses normalise the features.
# </details>
#
# **2.** Why does the positive term have no margin? What would $y\,\max(0, d - m_+)^2$ with a
# small positive margin $m_+$ change?
#
# <details><summary>Solution</summary>
#
# With $d^2$ every positive pair is pulled until it coincides, which squeezes each class into a
# point and fights against the variation inside a class (pose, handwriting). A positive margin
# $m_+$ lets positives rest anywhere within $m_+$ of each other: the loss then only asks that
# positives be closer than $m_+$ and negatives farther than $m$ (pytorch-metric-learning's
# `ContrastiveLoss(pos_margin, neg_margin)` is built this way).
# </details>
#
# **3.** In each batch, half of the pairs are negatives. With 7 classes, what fraction of
# *random* pairs is negative? What goes wrong if you train on random pairs instead of P×K pairs?
#
# <details><summary>Solution</summary>
#
# About 6/7 ≈ 86 % of random pairs are negative, and most of them are already farther than $m$ once
# training has started: they give zero loss. Positives become rare, so the network mostly learns
# to push things apart. With thousands of identities (faces) random pairs are almost never
# positive: this is why pair and triplet losses need P×K batches, and why the next notebook is
# about choosing *which* negatives to use (mining).
# </details>
