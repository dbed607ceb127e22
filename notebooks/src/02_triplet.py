# %% [markdown]
# # 02 · Triplet loss (FaceNet): anchors, positives, negatives and mining
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/02_triplet.ipynb)
#
# **What you will learn**
# - FaceNet's triplet loss $[\,d(a,p) - d(a,n) + \alpha\,]_+$ on normalised embeddings, written by hand;
# - P×K batches, and why *which* negatives you train on (mining) decides whether training works;
# - easy, semi-hard and hard negatives of one anchor, and how the margin $\alpha$ moves the line between them;
# - FaceNet's three uses of one embedding (verification, recognition, clustering), measured on digits the
#   network never saw: the triplet row of the open-set scoreboard.
#
# Previous: [01 · Contrastive loss](01_contrastive.ipynb) · Next: [03 · SphereFace](03_sphereface.ipynb)

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
import copy
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display
from ipywidgets import FloatSlider, IntSlider, interact

from minifacenet.data import mnist, pk_batches
from minifacenet.losses import TripletLoss
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

# MINIFACENET_FAST=1 or 0 (CI, the build script) overrides the FAST line at the top of this cell.
FAST = {"1": True, "0": False}.get(os.environ.get("MINIFACENET_FAST"), FAST)
SEED = int(os.environ.get("MINIFACENET_SEED", "0"))  # the course's asserts hold for other seeds too
seed_everything(SEED)
TRAIN_SIZE = 4000 if FAST else 15000
TEST_SIZE = 1000 if FAST else 5000
EPOCHS = 2 if FAST else 3
ALPHA = 0.2
SEEN = len(SEEN_DIGITS)  # train on digits 0-6; 7, 8, 9 are the strangers
print(f"fast mode: {FAST}")

# %% [markdown]
# ## The idea
#
# The contrastive loss of notebook 01 asks for *absolute* distances: positives near 0,
# negatives beyond $m$. FaceNet (Schroff et al. 2015) asks only for an *order*: for an
# **anchor** $a$, a **positive** $p$ (same identity) must be closer than a **negative** $n$
# (another identity), by a margin $\alpha$:
#
# $$L = \big[\, d(a, p) - d(a, n) + \alpha \,\big]_+, \qquad d(u, v) = \lVert \hat f(u) - \hat f(v) \rVert_2^2,$$
#
# with $\hat f = f / \lVert f \rVert$ on the unit sphere (so $d \in [0, 4]$) and $\alpha = 0.2$.
# A triplet whose negative is already farther than $d(a,p) + \alpha$ has zero loss: it is **easy**
# and teaches nothing. The others are
#
# - **hard**: $d(a, n) < d(a, p)$ (the negative is closer than the positive);
# - **semi-hard**: $d(a, p) < d(a, n) < d(a, p) + \alpha$ (correct order, but inside the margin).
#
# FaceNet trains on semi-hard negatives; Hermans et al. (2017) on the *batch-hard* triplet of each
# anchor (its farthest positive and nearest negative). Mining is done inside each batch, so each batch
# must contain several images of each identity: a **P×K batch** (P identities × K images).

# %% [markdown]
# ## The loss, written by hand
#
# `TripletLoss.mine` returns the mined triplets as index tensors `(a, p, n)`; the loss is then two gathers and a
# ReLU, checked against the library for semi-hard and batch-hard mining on a random P×K batch.

# %%
def triplet_loss(embeddings: torch.Tensor, a: torch.Tensor, p: torch.Tensor, n: torch.Tensor, *, alpha: float):
    """mean over triplets of [ |f(a) - f(p)|^2 - |f(a) - f(n)|^2 + alpha ]_+ on unit vectors."""
    # project onto the unit circle/sphere: [N, D]
    x = F.normalize(embeddings, dim=1)
    # squared distances anchor-positive and anchor-negative: [T]
    d_ap = (x[a] - x[p]).pow(2).sum(dim=1)
    d_an = (x[a] - x[n]).pow(2).sum(dim=1)
    return F.relu(d_ap - d_an + alpha).mean()


# %%
# NBVAL_CHECK_OUTPUT
generator = torch.Generator().manual_seed(0)
labels = torch.arange(8).repeat_interleave(4)  # P = 8 classes x K = 4 images
embeddings = torch.randn(len(labels), 2, generator=generator)
for mining in ["semi-hard", "batch-hard"]:
    library = TripletLoss(margin=ALPHA, mining=mining)
    a, p, n = library.mine(embeddings, labels)
    ours = triplet_loss(embeddings, a, p, n, alpha=ALPHA)
    torch.testing.assert_close(ours, library(embeddings, labels))
    print(f"{mining:>10}: {len(a):3d} triplets, by hand {ours.item():.4f} = library {library(embeddings, labels).item():.4f}")

# %% [markdown]
# ## P×K batches
#
# `minifacenet.data.pk_batches` yields index batches laid out as P blocks of K images of one
# class. Here is one with P = 5 digits and K = 4 images each: every image has K − 1 = 3 positives
# and (P − 1)·K = 16 negatives in its batch.

# %%
train_split = split_by_class(*mnist(train=True))  # digits 0-6 (labels 0..6); 7-9 held out
x_train, y_train = train_split.seen_images[:TRAIN_SIZE], train_split.seen_labels[:TRAIN_SIZE]
x_test, y_test = mnist(train=False)
x_test, y_test = x_test[:TEST_SIZE], y_test[:TEST_SIZE]  # all ten digits
seen_test = y_test < SEEN

batch = next(pk_batches(y_train, classes_per_batch=5, samples_per_class=4, generator=torch.Generator().manual_seed(0)))
fig, axes = plt.subplots(4, 5, figsize=(6, 5))
for slot, index in enumerate(batch.tolist()):
    ax = axes[slot % 4, slot // 4]
    ax.imshow(x_train[index, 0], cmap="gray_r")
    ax.axis("off")
    ax.set_title(f"label {int(y_train[index])}", fontsize=8)
fig.suptitle("One P×K batch: P = 5 classes (columns) × K = 4 images (rows)")
plt.show()

# %% [markdown]
# ## Random vs semi-hard vs batch-hard mining
#
# Three identical networks (digits 0–6, learning rate 0.01); only the mining changes. We compare 1-nearest-neighbour
# accuracy (seen test digits against a gallery of seen training digits), the spread of the normalised embeddings
# (0 = every digit at one point) and the embeddings. Loss values are not comparable across minings.

# %%
def train_triplet(*, mining: str, seed: int = SEED):
    """A fresh 2-D network trained with triplet loss and the given mining; (model, history)."""
    seed_everything(seed)
    model = EmbeddingNet(embedding_dim=2, widths=(16, 32, 64), hidden=64)
    # the course recipe (minifacenet.recipe) for every mining, in P x K batches: 7 digits x 14 images
    history = fit(model, TripletLoss(margin=ALPHA, mining=mining), x_train, y_train,
                  epochs=EPOCHS, batch_size=98, classes_per_batch=SEEN, seed=seed, progress=False)
    return model, history


gallery_x, gallery_y = x_train[:2000], y_train[:2000]


def evaluate(model, history) -> dict:
    """Normalised test and gallery embeddings, 1-NN accuracy on seen digits and the spread of the embedding."""
    emb_test = F.normalize(embed(model, x_test), dim=1)
    emb_gallery = F.normalize(embed(model, gallery_x), dim=1)
    accuracy = knn_accuracy(emb_gallery, gallery_y, emb_test[seen_test], y_test[seen_test], k=1)
    # spread: size of the per-dimension standard deviation; 0 means one point for everything
    spread = emb_test.std(dim=0).norm().item()
    return {"model": model, "history": history, "test": emb_test, "gallery": emb_gallery,
            "knn": accuracy, "spread": spread}


results = {}
for mining in ["random", "semi-hard", "batch-hard"]:
    results[mining] = evaluate(*train_triplet(mining=mining))
    result = results[mining]
    print(f"{mining:>10}: loss per epoch {[round(v, 4) for v in result['history']['loss']]}, "
          f"1-NN accuracy {result['knn']:.3f}, spread {result['spread']:.3f}")

# %% [markdown]
# The loss sees only the *direction* of each output, a point on the unit circle where digits hide each other.
# So we draw each digit on **its own ring** (radius 1 for digit 0 up to 1.54 for digit 9) at the angle of its
# embedding: in a good embedding each ring's points bunch at one angle of their own.

# %%
def plot_rings(unit_embeddings, labels, *, ax, title: str, colors=None):
    """Normalised 2-D embeddings at their angle, digit d on a ring of radius 1 + 0.06 d."""
    angle = torch.atan2(unit_embeddings[:, 1], unit_embeddings[:, 0]).numpy()
    radius = 1 + 0.06 * labels.numpy()
    colors = labels.numpy() if colors is None else colors
    scatter = ax.scatter(radius * np.cos(angle), radius * np.sin(angle), c=colors, cmap="tab10",
                         vmin=0, vmax=9, s=4, alpha=0.6, linewidths=0)
    ax.legend(*scatter.legend_elements(), loc="center", fontsize=7, ncol=2, title="class", title_fontsize=7)
    ax.set(title=title, xlabel="direction, dimension 1", ylabel="direction, dimension 2", aspect="equal",
           xlim=(-1.7, 1.7), ylim=(-1.7, 1.7))
    return ax.figure


fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, (mining, result) in zip(axes, results.items(), strict=True):
    plot_rings(result["test"], y_test, ax=ax, title=f"{mining} mining: 1-NN {result['knn']:.1%}")
plt.tight_layout()
plt.show()

# %% [markdown]
# Random negatives are mostly easy (zero loss) long before the
# classes are separated, so random mining learns slowly. Semi-hard mining uses the informative
# triplets. And batch-hard, from scratch with this learning rate, **collapses**: its spread is close
# to 0, every digit lands on (almost) the same direction, and its loss heads for α = 0.2 (see "Going further").

# %%
# Checks that fail the notebook if training did not work (valid in fast mode too).
assert results["random"]["knn"] > (0.25 if FAST else 0.5), "random mining learned nothing"
assert results["semi-hard"]["knn"] > (0.4 if FAST else 0.75), "semi-hard mining: 1-NN accuracy too low"
assert results["semi-hard"]["spread"] > 0.5, "semi-hard embeddings should spread over the circle"
assert results["random"]["knn"] < results["semi-hard"]["knn"], "random mining was expected to lag semi-hard"

# %% [markdown]
# ## Easy, semi-hard and hard negatives of one anchor
#
# Take one P×K batch of test digits, one anchor and its farthest positive. Each negative is closer than the
# positive (**hard**), within $\alpha$ beyond it (**semi-hard**), or farther (**easy**, zero loss). The semi-hard set is
# exactly what `TripletLoss(margin=α, mining="semi-hard").mine` returns for this (anchor, positive). We use the
# random-mining network: less tight than the semi-hard one, so an anchor still has hard negatives (counted in the
# legend).

# %%
def negative_zones(embeddings, labels, *, anchor: int, positive: int, alpha: float):
    """Distances from the anchor and the hard / semi-hard / easy masks of the batch's negatives."""
    miner = TripletLoss(margin=alpha, mining="semi-hard")
    # squared distances on the unit circle: [N, N]
    dist = miner.distances(embeddings)
    a, p, n = miner.mine(embeddings, labels, distances=dist)
    semi_hard = torch.zeros(len(labels), dtype=torch.bool)
    semi_hard[n[(a == anchor) & (p == positive)]] = True
    negative = labels != labels[anchor]
    d_ap = dist[anchor, positive]
    hard = negative & (dist[anchor] < d_ap)
    easy = negative & ~hard & ~semi_hard
    return dist[anchor], d_ap, {"hard": hard, "semi-hard": semi_hard, "easy": easy}


ZONE_COLORS = {"hard": "tab:red", "semi-hard": "tab:orange", "easy": "tab:gray"}


def plot_negative_zones(embeddings, labels, *, anchor: int, alpha: float):
    """Left: the batch on the unit circle; right: the distance axis with the three zones."""
    x = F.normalize(embeddings, dim=1)
    same = torch.nonzero(labels == labels[anchor]).flatten()
    distances_sq = (x[same] - x[anchor]).pow(2).sum(1)
    positive = int(same[distances_sq.argmax()])  # the farthest positive (batch-hard's choice)
    d_a, d_ap, zones = negative_zones(embeddings, labels, anchor=anchor, positive=positive, alpha=alpha)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.5]})
    circle = np.linspace(0, 2 * np.pi, 200)
    left.plot(np.cos(circle), np.sin(circle), color="lightgray", linewidth=1)
    for name, mask in zones.items():
        radius = {"hard": 0.9, "semi-hard": 1.0, "easy": 1.1}[name]  # offset rings so points do not hide
        left.scatter(radius * x[mask, 0], radius * x[mask, 1], s=25, color=ZONE_COLORS[name], label=f"{name} ({int(mask.sum())})")
        right.scatter(d_a[mask], np.full(int(mask.sum()), 0.0), s=40, color=ZONE_COLORS[name], alpha=0.8)
    left.scatter(*x[positive], marker="s", s=90, color="tab:green", label="positive (farthest)")
    left.scatter(*x[anchor], marker="*", s=250, color="black", label=f"anchor (digit {int(labels[anchor])})")
    left.set(title="Normalised embeddings of one P×K batch", xlabel="dimension 1", ylabel="dimension 2", aspect="equal")
    left.legend(fontsize=8, loc="center")
    right.axvspan(0, float(d_ap), color=ZONE_COLORS["hard"], alpha=0.15)
    right.axvspan(float(d_ap), float(d_ap) + alpha, color=ZONE_COLORS["semi-hard"], alpha=0.25)
    right.axvspan(float(d_ap) + alpha, 4.0, color=ZONE_COLORS["easy"], alpha=0.1)
    right.axvline(float(d_ap), color="tab:green", linewidth=2, label="d(a, p)")
    right.axvline(float(d_ap) + alpha, color="black", linestyle="--", label="d(a, p) + α")
    right.set(xlim=(0, 4), ylim=(-1, 1), yticks=[], xlabel="squared distance d(a, n) to the anchor",
              title=f"Negatives of the anchor, α = {alpha:.2f}: hard | semi-hard | easy")
    right.legend(fontsize=8, loc="upper right")
    plt.tight_layout()
    return fig


zone_batch = next(pk_batches(y_test, classes_per_batch=10, samples_per_class=6, generator=torch.Generator().manual_seed(3)))
zone_model = results["random"]["model"]
zone_emb, zone_labels = embed(zone_model, x_test[zone_batch]), y_test[zone_batch]
plot_negative_zones(zone_emb, zone_labels, anchor=0, alpha=ALPHA)
plt.show()

# %% [markdown]
# Move $\alpha$ (and the anchor): a larger margin turns easy negatives into semi-hard ones, so more
# triplets contribute to the loss. Hard negatives do not depend on $\alpha$ at all.

# %%
# NBVAL_IGNORE_OUTPUT
def show_negative_zones(alpha, anchor):
    """Draw and show (returns nothing: a returned figure is drawn twice, and stacked in Colab)."""
    plot_negative_zones(zone_emb, zone_labels, anchor=anchor, alpha=alpha)
    plt.show()


zone_widget = interact(
    show_negative_zones,
    alpha=FloatSlider(value=ALPHA, min=0.0, max=1.0, step=0.05, description="margin α", continuous_update=False),
    anchor=IntSlider(value=0, min=0, max=len(zone_batch) - 1, description="anchor", continuous_update=False),
)

# %% [markdown]
# > **Misconception: a triplet with a loss is a mistake.** A semi-hard triplet is in the right order,
# > $d(a,p) < d(a,n)$: the anchor would be recognised correctly; it only sits inside the margin. Even a hard
# > triplet is one comparison among many, not a wrong answer of the system, which ranks or thresholds all
# > distances.
#
# ## One embedding, three uses, on digits never seen (FaceNet §1)
#
# 1. **Verification** ("are these two the same person?"): threshold the distance of a pair.
# 2. **Recognition** ("who is this?"): the nearest neighbour in a gallery of known identities.
# 3. **Clustering** ("group these photos by person"): k-means on the embeddings.
#
# All three are in the open-set report (notebook 00), here on the unseen digits 7–9, scored by the measure the
# loss trains: squared distance on the unit circle, $2 - 2\cos$, so the **cosine** (`openset.loss_metric`). We use
# the semi-hard network.

# %%
from minifacenet.lesson import add_lesson_row  # the row: trained under the lessons' one setting
from minifacenet.recipe import LESSON_RUN

chosen = results["semi-hard"]
report = openset_report(chosen["test"][~seen_test], y_test[~seen_test], metric=loss_metric(TripletLoss()))
print(format_report(report))
print(f"closed set: 1-NN accuracy on digits 0-6 {chosen['knn']:.3f}")
lesson_run = LESSON_RUN["fast" if FAST else "full"]  # the same images, epochs, network, recipe
# the scoreboard's row: triplet (semi-hard) trained under the lessons' one setting, paired with softmax
board = Scoreboard()
add_lesson_row(board, "triplet", run=lesson_run, seed=SEED, margin=ALPHA, mining="semi-hard", note="notebook 02")
display(Markdown(board.markdown(upto="triplet")))
assert report["auc"] > (0.55 if FAST else 0.6), f"unseen-digit verification AUC {report['auc']:.3f} is too low"

# %%
# the cosine of every pair among (up to) 400 unseen test digits: [P] scores and same-digit flags
unseen_index = torch.nonzero(~seen_test).flatten()[:400]
scores, same_digit, _ = pair_scores(chosen["test"][unseen_index], y_test[unseen_index])
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
bins = np.linspace(-1, 1, 41)
axes[0].hist(scores[~same_digit], bins=bins, density=True, color="darkgray", label="different digits")
axes[0].hist(scores[same_digit], bins=bins, density=True, histtype="step", linewidth=1.5, color="black",
             label="same digit")
axes[0].set(title=f"Unseen pairs: AUC {report['auc']:.1%}, TAR@FAR=1% {report['tar@far=0.01']:.1%}",
            xlabel="cosine of a pair of unseen test digits", ylabel="density")
axes[0].legend(loc="upper left")
plot_rings(chosen["test"][~seen_test], y_test[~seen_test], ax=axes[1],
           title=f"Unseen 7-9 on their rings: 1-NN gallery {report['gallery_accuracy']:.1%}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## What to remember
# - Triplet loss asks for an order, $d(a,p) + \alpha < d(a,n)$, on the unit sphere; easy triplets give zero loss.
# - Mining decides what the network learns: random negatives are mostly easy; semi-hard and batch-hard use
#   the informative ones. Mining needs P×K batches.
# - One embedding serves verification (threshold), recognition (nearest neighbour) and clustering (k-means), also
#   for identities it never saw: that is the scoreboard's row.
# - A triplet with a loss is not an error; batch-hard from scratch can collapse (Going further).

# %% [markdown]
# ## Going further
#
# ### Collapse
#
# A classic failure: the loss drops to **α** and stays there. If every embedding sits at
# the same point, then $d(a,p) = d(a,n) = 0$ for every triplet and the loss is $[0 - 0 + \alpha]_+ = \alpha$.
# From there the gradient cannot tell classes apart. Collapse happens when the hardest negatives are
# used from the first step (and the faster, the higher the learning rate): early on the hardest negative is closer than
# the hardest positive, and the cheapest way to reduce $d(a,p) - d(a,n)$ for all anchors at once is to
# shrink *all* distances. FaceNet warns about exactly this: "selecting the hardest negatives can in practice
# lead to bad local minima early on in training, specifically it can result in a collapsed model".
#
# The batch-hard network above is such a collapsed model. The fix used in practice is a curriculum: start
# with semi-hard negatives, and only then train on the hardest ones, with a smaller learning rate. We take
# the semi-hard network and continue with batch-hard mining for one epoch at learning rate 0.001.

# %%
collapsed = results["batch-hard"]
fixed_model = copy.deepcopy(results["semi-hard"]["model"])
fixed_history = fit(fixed_model, TripletLoss(margin=ALPHA, mining="batch-hard"), x_train, y_train,
                    epochs=1, batch_size=98, lr=1e-3, classes_per_batch=SEEN, seed=SEED, progress=False)
fixed = evaluate(fixed_model, fixed_history)
print(f"collapsed (batch-hard from scratch): loss per epoch {[round(v, 4) for v in collapsed['history']['loss']]}, "
      f"spread {collapsed['spread']:.3f}, 1-NN {collapsed['knn']:.3f}")
print(f"fixed (semi-hard, then batch-hard):  loss {fixed_history['loss'][-1]:.4f}, "
      f"spread {fixed['spread']:.3f}, 1-NN {fixed['knn']:.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
plot_rings(collapsed["test"], y_test, ax=axes[0],
           title=f"Collapsed: batch-hard from scratch\nfinal loss {collapsed['history']['loss'][-1]:.3f}, α = {ALPHA}")
plot_rings(fixed["test"], y_test, ax=axes[1], title="Fix: semi-hard first, then batch-hard")
plt.tight_layout()
plt.show()

# %% [markdown]
# The fixed network's batch-hard loss is not small either (printed above, above α): in a spread-out embedding the
# hardest triplet of each anchor still violates the margin. The loss value cannot tell health from collapse; the
# spread can: near 1 for the fixed embedding, near 0 for the collapsed one. A constant embedding shows where the α
# comes from: with batch-hard or random mining its loss is exactly α; semi-hard mining finds no triplet in it (no
# negative is strictly farther than the positive) and returns 0.

# %%
constant = torch.ones(len(labels), 2)
for mining in ["semi-hard", "batch-hard", "random"]:
    value = TripletLoss(margin=ALPHA, mining=mining)(constant, labels).item()
    print(f"{mining:>10} loss of a constant embedding: {value:.4f}")
assert abs(TripletLoss(margin=ALPHA, mining="batch-hard")(constant, labels).item() - ALPHA) < 1e-6
assert collapsed["spread"] < 0.5 * results["semi-hard"]["spread"], "batch-hard from scratch was expected to collapse"
assert fixed["spread"] > 0.5 * results["semi-hard"]["spread"], "the curriculum should not collapse"
assert abs(collapsed["history"]["loss"][-1] - ALPHA) < 0.01, "the collapsed loss should sit at alpha"
assert fixed_history["loss"][-1] > ALPHA, "the fixed network's batch-hard loss is above alpha"

# %% [markdown]
# Other remedies used in practice: a lower learning rate or a learning-rate warm-up, larger batches, and
# non-squared distances with a soft margin (Hermans et al.). Once collapsed, a network rarely recovers:
# for a collapsed batch the semi-hard list is empty (no negative is strictly farther than the positive),
# so semi-hard mining gives zero loss there. Prevention is the fix.

# %% [markdown]
# ### At full scale (closed set)
#
# This notebook trains on a subset for a few epochs so that it runs in minutes on a laptop CPU. The same losses
# trained by the command-line tool on all 60 000 training digits, all ten classes (one seed, measured; the README's table,
# every run in `docs/results.md`):
#
# | loss | 2-D 1-NN test accuracy | command |
# |---|---|---|
# | triplet, semi-hard, α = 0.2, 10 epochs | 97.27 % | `python -m minifacenet train --loss triplet --dim 2 --margin 0.2 --mining semi-hard --epochs 10` |
# | the same, 20 epochs | 98.71 % | `... --epochs 20` |

# %% [markdown]
# ## Exercises
#
# **1.** Train with `mining="batch-all"` (every triplet that violates the margin, averaged over the
# active ones). Where does its 1-NN accuracy land compared with the three above?
#
# <details><summary>Solution</summary>
#
# ```python
# model, history = train_triplet(mining="batch-all")
# emb = F.normalize(embed(model, x_test), dim=1)
# print(knn_accuracy(F.normalize(embed(model, gallery_x), dim=1), gallery_y, emb[seen_test], y_test[seen_test], k=1))
# ```
# Batch-all uses every violating triplet of the batch, not one per anchor: the hard ones that drive
# collapse are averaged with many semi-hard ones, and averaging only over the *active* triplets keeps the
# gradient from vanishing when most triplets are easy. Compare its spread with the collapsed batch-hard run.
# </details>
#
# **2.** With 2-D normalised embeddings every point lies on a circle. If the 10 classes were evenly
# spaced arcs, what is the squared distance between the centres of neighbouring classes? Is α = 0.2
# achievable for every neighbour pair, and what about α = 1.0?
#
# <details><summary>Solution</summary>
#
# Neighbouring centres are 36° apart: $d = 2 - 2\cos 36° \approx 0.38$. Points of a class spread over
# an arc, so the gap between the *edges* of neighbouring arcs is smaller still; α = 0.2 is tight but
# possible, α = 1.0 (a 60° gap) is impossible with 10 classes on a circle: the loss can never reach 0.
# In 128-D (FaceNet) there is room for far more identities.
# </details>
#
# **3.** Use the slider: for the anchor shown, set α to 0. Which negatives remain in the loss, and why
# does FaceNet need α > 0?
#
# <details><summary>Solution</summary>
#
# With α = 0 the semi-hard zone is empty and only hard negatives (closer than the positive) give a loss.
# A triplet is then satisfied as soon as $d(a,n)$ is a hair larger than $d(a,p)$: the classes touch,
# and a tiny change of the image flips the answer. The margin asks for a gap.
# </details>
