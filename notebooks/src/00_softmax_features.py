# %% [markdown]
# # 00 · Softmax features are angular, and closed-set training is not open-set recognition
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/00_softmax_features.ipynb)
#
# **What you will learn**
# - why a softmax classifier separates its classes by **angle**: the logit is $\lVert W_j \rVert \lVert x \rVert \cos\theta_j + b_j$;
# - three heads that share one recipe, logits $= \text{scale} \cdot \cos\theta_j$: softmax, normalised softmax (NormFace) and A-Softmax (SphereFace);
# - the six-panel picture (Euclidean and angular views of 2-D MNIST features) for each;
# - why a classifier trained on a *closed* set of classes says nothing useful about a class it never saw.
#
# Next: [01 · Contrastive loss](01_contrastive.ipynb)

# %%
# Setup. In Colab, install minifacenet from its repository; locally it is already installed.
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
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "minifacenet @ git+https://github.com/minifacenet/minifacenet@main"], check=True)
# One look for every figure of the course. Plotly: Colab needs its own renderer; JupyterLab,
# Notebook 7 and VS Code draw the plotly mimetype (GitHub shows the matplotlib twin beside it).
plt.rcParams.update({"figure.dpi": 80, "font.size": 10, "axes.titlesize": 11, "legend.fontsize": 8})
pio.renderers.default = "colab" if IN_COLAB else "plotly_mimetype"

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import display
from sklearn.metrics import roc_auc_score

from minifacenet.data import mnist
from minifacenet.losses import NormFace, Softmax, SphereFace
from minifacenet.metrics import accuracy
from minifacenet.models import EmbeddingNet
from minifacenet.train import embed, fit, predict, seed_everything
from minifacenet.widgets import MarginExplorer

# Fast mode (CI sets MINIFACENET_FAST=1) shrinks data and epochs; full mode is what you run.
FAST = os.environ.get("MINIFACENET_FAST") == "1"
seed_everything(0)
TRAIN_SIZE = 4000 if FAST else 15000
TEST_SIZE = 1500 if FAST else 5000
EPOCHS = 2 if FAST else 4
KNOWN = 8  # digits 0..7 are the closed set we train on; 8 and 9 are never seen
print(f"fast mode: {FAST}")

# %% [markdown]
# ## The idea
#
# The last layer of a classifier maps an embedding $x \in \mathbb{R}^D$ to one logit per class,
# $z_j = W_j^\top x + b_j$, and softmax turns logits into probabilities. Write the dot product with
# the angle $\theta_j$ between $x$ and the class weight $W_j$:
#
# $$z_j = \lVert W_j \rVert\, \lVert x \rVert \cos\theta_j + b_j .$$
#
# The biases are small after training, and $\lVert x \rVert$ is shared by all classes of one sample,
# so the class with the **smallest angle** to $x$ (weighted by $\lVert W_j\rVert$) wins. Making $x$
# longer never changes the winner; it only makes softmax more confident. So training stretches the
# features outwards along radial "petals", and the information is in the direction.
#
# Two heads make this explicit (Liu et al. 2017, SphereFace; Wang et al. 2017, NormFace):
#
# | head | logits | what is normalised |
# |---|---|---|
# | softmax | $\lVert W_j\rVert \lVert x\rVert \cos\theta_j + b_j$ | nothing |
# | normalised softmax (NormFace) | $s \cos\theta_j$ | $W$ and $x$; $s$ a fixed scale |
# | A-Softmax (SphereFace) | $\lVert x\rVert \cos\theta_j$, target $\lVert x\rVert\,\psi(\theta_y)$ | $W$ |
#
# with $\psi(\theta) = (-1)^k \cos(m\theta) - 2k$ for $\theta \in [k\pi/m, (k+1)\pi/m]$, a *multiplicative*
# angular margin: the target class must win with angle $m\theta_y$ instead of $\theta_y$.
#
# Every head in `minifacenet` is a `MarginHead`: it computes $\cos\theta_j$, lets a hook change the
# target cosine (the margin), and scales. The rest of the course changes only those hooks.

# %% [markdown]
# ## The logits, written by hand
#
# We rebuild each head's logits from $\cos\theta_j$ and compare with the library on random inputs.

# %%
def cosines(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """cos(theta_j) between each embedding and each class weight: [N, D], [C, D] -> [N, C]."""
    return F.normalize(x, dim=1) @ F.normalize(weight, dim=1).T


def psi(theta: torch.Tensor, m: int) -> torch.Tensor:
    """SphereFace's psi(theta) = (-1)^k cos(m theta) - 2k on [k pi/m, (k+1) pi/m]."""
    k = torch.floor(m * theta / math.pi).clamp(max=m - 1)
    return (-1.0) ** k * torch.cos(m * theta) - 2 * k


# %%
# NBVAL_CHECK_OUTPUT
generator = torch.Generator().manual_seed(0)
x = torch.randn(16, 2, generator=generator, dtype=torch.float64)
y = torch.randint(KNOWN, (16,), generator=generator)

softmax_head = Softmax(2, KNOWN).double()
cos = cosines(x, softmax_head.weight)
# softmax: |W_j| |x| cos(theta_j) + b_j is exactly W x + b
by_hand = softmax_head.weight.norm(dim=1) * x.norm(dim=1, keepdim=True) * cos + softmax_head.bias
torch.testing.assert_close(by_hand, softmax_head.logits(x))

normface_head = NormFace(2, KNOWN, s=10.0).double()
# NormFace: s cos(theta_j), with or without labels (no margin)
torch.testing.assert_close(10.0 * cosines(x, normface_head.weight), normface_head.logits(x, y))

sphere_head = SphereFace(2, KNOWN, m=4).double()
sphere_head.lamb = 0.0  # pure A-Softmax, no annealing
cos = cosines(x, sphere_head.weight)
target = psi(torch.acos(cos.gather(1, y[:, None])), m=4)  # [N, 1]
# A-Softmax: |x| cos(theta_j) for the other classes, |x| psi(theta_y) for the target
by_hand = x.norm(dim=1, keepdim=True) * cos.scatter(1, y[:, None], target)
torch.testing.assert_close(by_hand, sphere_head.logits(x, y))
print("softmax, NormFace and A-Softmax logits match the library")

# %% [markdown]
# ## Training three heads on digits 0–7
#
# One small CNN per head maps each digit to a point in the plane (2-D features, so we can look at
# them). We train on the **closed set** of digits 0–7 only. Digits 8 and 9 play the part of the
# strangers a face-recognition system meets at test time: we never train on them.
#
# For SphereFace the target logit is annealed, $(\lambda\,\lVert x\rVert\cos\theta_y + \lVert x\rVert\,\psi(\theta_y))/(1+\lambda)$,
# with $\lambda$ falling from 1000 towards $\lambda_{\min} = 5$ (pure A-Softmax is too hard to train from
# scratch); we use $m = 4$ as in the paper and a faster decay than the paper's, since our runs are short.

# %%
x_train, y_train = mnist(train=True)
x_test, y_test = mnist(train=False)
known_train = y_train < KNOWN
x_train, y_train = x_train[known_train][:TRAIN_SIZE], y_train[known_train][:TRAIN_SIZE]
x_test, y_test = x_test[:TEST_SIZE], y_test[:TEST_SIZE]
known_test = y_test < KNOWN

heads = {
    "softmax": Softmax(2, KNOWN),
    "normalised softmax (s = 10)": NormFace(2, KNOWN, s=10.0),
    "A-Softmax (m = 4)": SphereFace(2, KNOWN, m=4, lamb_gamma=1.0),
}
runs = {}
for name, head in heads.items():
    seed_everything(0)
    model = EmbeddingNet(embedding_dim=2, widths=(16, 32, 64), hidden=64)
    history = fit(model, head, x_train, y_train, epochs=EPOCHS, batch_size=64, lr=1e-2, progress=False)
    features = embed(model, x_test)  # [N, 2], all ten digits
    test_accuracy = accuracy(predict(head, features[known_test]), y_test[known_test])
    runs[name] = {"head": head, "features": features, "history": history, "accuracy": test_accuracy}
    print(f"{name:>28}: training loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}, "
          f"test accuracy on digits 0-7 {test_accuracy:.3f}")

# %%
# Checks that fail the notebook if training did not work (valid in fast mode too).
# Accuracy floors (fast, full); chance is 1/8.
FLOORS = {"softmax": (0.7, 0.9), "normalised softmax (s = 10)": (0.5, 0.9), "A-Softmax (m = 4)": (0.5, 0.85)}
for name, run in runs.items():
    assert run["history"]["loss"][-1] < run["history"]["loss"][0], f"{name}: the loss did not decrease"
    floor = FLOORS[name][0 if FAST else 1]
    assert run["accuracy"] > floor, f"{name}: test accuracy {run['accuracy']:.3f} is below {floor}"

# %% [markdown]
# ## Six panels: Euclidean and angular views
#
# Top row: the 2-D features of the test digits 0–7 (coloured) and of the unseen digits 8 and 9 (black),
# with each class weight direction $W_j$ drawn as an arrow. Bottom row: the same features by
# **angle** only, $\operatorname{atan2}(x_2, x_1)$: a histogram per class.

# %%
CLASS_COLORS = plt.get_cmap("tab10")(np.arange(10))


def plot_euclidean(features, labels, weight, *, ax, title: str):
    """2-D features of known classes coloured, unknown ones black, class weights as arrows."""
    known = labels < len(weight)
    f, w = features.numpy(), F.normalize(weight.detach(), dim=1).numpy()
    ax.scatter(f[known, 0], f[known, 1], c=CLASS_COLORS[labels[known]], s=3, alpha=0.5)
    ax.scatter(f[~known, 0], f[~known, 1], c="black", s=4, alpha=0.6, label="unseen 8 and 9")
    reach = np.percentile(np.linalg.norm(f, axis=1), 95)
    for j, direction in enumerate(w):
        ax.annotate("", xy=direction * reach, xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": CLASS_COLORS[j], "linewidth": 2})
        ax.text(*(direction * reach * 1.08), str(j), color=CLASS_COLORS[j], fontsize=11, ha="center", va="center")
    limit = 1.25 * reach  # room for the arrow labels
    ax.set(title=title, xlabel="feature 1", ylabel="feature 2", aspect="equal", xlim=(-limit, limit), ylim=(-limit, limit))
    ax.legend(loc="lower right", fontsize=8)


def plot_angular(features, labels, num_known: int, *, ax):
    """Histogram of the feature angle per known class, unknown classes as a black outline."""
    angle = np.degrees(np.arctan2(features[:, 1].numpy(), features[:, 0].numpy()))
    bins = np.linspace(-180, 180, 73)
    for j in range(num_known):
        ax.hist(angle[labels.numpy() == j], bins=bins, color=CLASS_COLORS[j], alpha=0.7, label=str(j))
    ax.hist(angle[labels.numpy() >= num_known], bins=bins, histtype="step", color="black", linewidth=1.5,
            label="8, 9")
    ax.set(xlabel="angle of the feature (degrees)", ylabel="test digits", xlim=(-180, 180), xticks=range(-180, 181, 90))
    ax.legend(fontsize=7, ncol=3, title="digit", title_fontsize=7)


fig, axes = plt.subplots(2, 3, figsize=(15, 9.5))
for column, (name, run) in enumerate(runs.items()):
    plot_euclidean(run["features"], y_test, run["head"].weight, ax=axes[0, column],
                   title=f"{name}\n(accuracy on 0-7: {run['accuracy']:.1%})")
    plot_angular(run["features"], y_test, KNOWN, ax=axes[1, column])
    axes[1, column].set_title(f"{name}: angular view")
plt.tight_layout()
plt.show()

# %% [markdown]
# What to see:
# - **Softmax**: radial petals. Points far from the origin are the confidently classified ones; the
#   boundaries between classes are rays from the origin. In the angular view each class is an interval.
# - **Normalised softmax**: the loss only sees the direction, so the *length* of the feature carries
#   no meaning for the decision; classes are arcs of the circle. Its class weights start **evenly spaced**
#   around the circle (`losses.spread_directions`; the arrows keep roughly that order). That start matters
#   in 2-D: from random directions, two weights can point almost the same way, their classes then share
#   one arc and neither can win clearly; features on a circle cannot walk past each other to escape.
#   With random starting weights this same run reached only about 50 % on digits 0–7 (exercise 4).
# - **A-Softmax**: the multiplicative margin asks each class to occupy a narrower angle ($m\theta_y$
#   instead of $\theta_y$), so the intervals in the angular view become thinner, with gaps between them.
#
# A check of the "angular" claim: double every feature and the softmax prediction should hardly change;
# for the normalised heads it cannot change at all.

# %%
for name, run in runs.items():
    known_features = run["features"][known_test]
    unchanged = (predict(run["head"], known_features) == predict(run["head"], 2 * known_features)).float().mean()
    print(f"{name:>28}: predictions unchanged when every feature is doubled: {unchanged:.1%}")
    # exact for the normalised heads; softmax only "mostly" (its biases matter near the origin)
    floor = 1.0 if name != "softmax" else (0.8 if FAST else 0.9)
    assert unchanged >= floor, f"{name}: the decision depends on the feature length ({unchanged:.1%})"

# %% [markdown]
# ## Closed-set training does not solve open-set recognition
#
# The black points in the top row are digits 8 and 9, which no network ever saw. They do not land in
# some empty "unknown" region: the softmax has none. Every direction in the plane belongs to one of
# the eight known classes, so each stranger is **assigned to a known class**. A face-recognition system
# built this way names every stranger as someone in its training set. Can we at least tell the strangers
# by a low confidence? Below: the highest class probability of known and unseen test digits.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for ax, (name, run) in zip(axes, runs.items(), strict=True):
    # test-time probabilities (no margin): [N, 8]
    probability = torch.softmax(run["head"].logits(run["features"]), dim=1).max(dim=1).values.detach()
    run["unknown_confident"] = (probability[~known_test] > 0.9).float().mean().item()
    # how well the highest probability tells known (1) from unseen (0) digits: 0.5 = not at all, 1 = perfectly
    run["auroc"] = roc_auc_score(known_test.numpy(), probability.numpy())
    bins = np.linspace(0, 1, 21)
    ax.hist(probability[known_test].numpy(), bins=bins, alpha=0.6, density=True, label="known digits 0-7")
    ax.hist(probability[~known_test].numpy(), bins=bins, alpha=0.6, density=True, color="black",
            label="unseen digits 8, 9")
    ax.set(title=f"{name}\nunseen digits with p > 0.9: {run['unknown_confident']:.0%}; AUROC {run['auroc']:.2f}",
           xlabel="highest class probability", ylabel="density")
    ax.legend(fontsize=8, loc="upper left")
plt.tight_layout()
plt.show()

# %% [markdown]
# Unseen digits get lower confidence on average, but the two histograms overlap: no threshold on the
# probability separates them cleanly from the known ones. The AUROC in each title (the probability that a
# random known digit gets a higher score than a random unseen one) would be 1.0 for a clean separation. What we need instead is an
# **embedding** whose *distances* mean something for classes it never saw: compare a new face with a
# gallery, not with a fixed list of class weights. The next notebooks learn such embeddings, first
# directly from pairs and triplets (01, 02), then with margins on the angle (03–05).

# %%
for name, run in runs.items():
    print(f"{name:>28}: unseen digits with p > 0.9: {run['unknown_confident']:.1%}, AUROC known vs unseen {run['auroc']:.3f}")
    assert run["auroc"] < 0.97, f"{name}: the probability separates unseen digits almost perfectly"

# %% [markdown]
# ## Interactive: the margin explorer
#
# The normalised-softmax features of digits 0–7 on the unit circle, with the trained class weights.
# The explorer adds a margin $m$ to this trained head and shows which samples would violate it
# (red), for the loss chosen in the drop-down. Try CosFace with $m$ from 0 to 0.3, and move $s$ to see
# how the scale sharpens the probabilities. Notebooks 03–05 train with these margins.

# %%
# NBVAL_IGNORE_OUTPUT
normface = runs["normalised softmax (s = 10)"]
explorer = MarginExplorer(head=normface["head"], embeddings=normface["features"][known_test],
                          labels=y_test[known_test], loss="cosface", m=0.1)
display(explorer)

# %% [markdown]
# ## At full scale
#
# This notebook trains on a subset for a few epochs so that it runs in minutes on a laptop CPU. The same losses
# trained by the command-line tool on all 60 000 training digits (one seed, measured; the README's table,
# every run in `docs/results.md`):
#
# | head | 2-D test accuracy | command |
# |---|---|---|
# | softmax | 99.25 % | `python -m minifacenet train --loss softmax --dim 2 --epochs 10` |
# | normalised softmax (s = 16) | 97.99 % | `python -m minifacenet train --loss normface --dim 2 --scale 16 --lr 0.01 --epochs 10` |
# | A-Softmax (m = 4) | 99.13 % | `python -m minifacenet train --loss sphereface --dim 2 --margin 4 --epochs 10` |

# %% [markdown]
# ## Exercises
#
# **1.** Set the softmax head's bias to zero after training (`runs["softmax"]["head"].bias.data.zero_()`)
# and measure the accuracy again. What does the result say about the role of $b_j$?
#
# <details><summary>Solution</summary>
#
# ```python
# run = runs["softmax"]
# run["head"].bias.data.zero_()
# print(accuracy(predict(run["head"], run["features"][known_test]), y_test[known_test]))
# ```
# Only features near the origin can change class: far from it $\lVert W_j\rVert \lVert x\rVert$ dwarfs the
# biases, so the decision is made by the angle (and the weight norms). Count how many predictions change,
# and where those points lie. This is why SphereFace and its successors drop the bias.
# </details>
#
# **2.** Normalised softmax with $s = 1$: what is the highest probability the correct class can reach with
# 8 classes, even if $\theta_y = 0$ and every other class is opposite? Train with `NormFace(2, KNOWN, s=1.0)`
# and compare the training loss.
#
# <details><summary>Solution</summary>
#
# The best case is $\cos\theta_y = 1$ and $\cos\theta_j = -1$:
# $p = e^{s} / (e^{s} + 7 e^{-s})$, which is $e / (e + 7/e) \approx 0.51$ for $s = 1$. The loss cannot go below
# $-\ln 0.51 \approx 0.67$, so the gradient never fades and training is poor. With $s = 10$ the same bound is
# $p \approx 1$. This is why normalised heads need a scale $s$ (NormFace, CosFace and ArcFace all have one).
# </details>
#
# **3.** Try to reject the unseen digits: for the normalised softmax, choose the threshold on the highest
# cosine $\max_j \cos\theta_j$ that keeps 95 % of the known test digits. What fraction of digits 8 and 9 does
# it reject?
#
# <details><summary>Solution</summary>
#
# ```python
# run = runs["normalised softmax (s = 10)"]
# best_cos = cosines(run["features"], run["head"].weight).max(dim=1).values.detach()
# threshold = torch.quantile(best_cos[known_test], 0.05)
# print(f"rejected unseen digits: {(best_cos[~known_test] < threshold).float().mean():.1%}")
# ```
# Only a minority: the unseen digits lie on the same circle as the known ones, often close to a class
# weight. A closed-set head leaves no room for "none of the above"; margins (03–05) shrink each class
# to a narrower cone, which helps, but the real answer is to compare embeddings with each other.
# </details>
#
# **4.** Start the normalised softmax from random class directions instead of evenly spaced ones and
# train it again with the same recipe. Where do the arrows end up, and what happens to the accuracy?
#
# <details><summary>Solution</summary>
#
# ```python
# seed_everything(0)
# head = NormFace(2, KNOWN, s=10.0)
# torch.nn.init.xavier_uniform_(head.weight)  # random directions, as for a plain linear layer
# model = EmbeddingNet(embedding_dim=2, widths=(16, 32, 64), hidden=64)
# fit(model, head, x_train, y_train, epochs=EPOCHS, batch_size=64, lr=1e-2, progress=False)
# print(accuracy(predict(head, embed(model, x_test[known_test])), y_test[known_test]))
# ```
# In our full-mode run from random directions it reached 0.48 (0.96 from evenly spaced ones). Some arrows
# start a few degrees apart and stay together: their classes share one arc. On a circle a class cannot
# walk past its neighbours to a free spot, because every other class pushes it back. In 128 dimensions
# random directions are already nearly orthogonal, which is why the papers never needed this.
# </details>

# %% [markdown]
# ## What to remember
# - Softmax logits are $\lVert W_j\rVert\lVert x\rVert\cos\theta_j + b_j$: the class is decided by the angle, the length only sets the confidence.
# - Normalising $W$ and $x$ gives logits $s\cos\theta_j$; every later loss changes only the target cosine.
# - A-Softmax makes the target angle count $m$ times: narrower classes, gaps between them.
# - A closed-set classifier assigns every input to a known class, often confidently: open-set recognition
#   needs an embedding compared by distance, not a fixed set of classes.
