# %% [markdown]
# # 00 · Softmax features are angular, and closed-set training is not open-set recognition
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/00_softmax_features.ipynb)
#
# **What you will learn**
# - why a softmax classifier separates its classes by **angle**: the logit is $\lVert W_j \rVert \lVert x \rVert \cos\theta_j + b_j$;
# - SphereFace's Fig. 2 on MNIST: softmax, *modified* softmax ($\lVert W_j\rVert = 1$, $b_j = 0$) and A-Softmax,
#   each seen in the plane and by angle, with its decision boundaries;
# - the course's open-set protocol: train on digits 0–6, measure on digits 7–9 that no network ever saw,
#   and the first row of the scoreboard that grows through the course.
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

import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display
from sklearn.metrics import roc_auc_score

from minifacenet.data import mnist
from minifacenet.explorer import MarginExplorer
from minifacenet.losses import Softmax, SphereFace
from minifacenet.metrics import accuracy
from minifacenet.models import EmbeddingNet
from minifacenet.openset import (
    SEEN_DIGITS,
    UNSEEN_DIGITS,
    Scoreboard,
    format_report,
    openset_report,
    split_by_class,
)
from minifacenet.train import embed, fit, predict, seed_everything

# Fast mode (CI sets MINIFACENET_FAST=1) shrinks data and epochs; full mode is what you run.
FAST = os.environ.get("MINIFACENET_FAST") == "1"
seed_everything(0)
TRAIN_SIZE = 4000 if FAST else 15000
TEST_SIZE = 1500 if FAST else 5000
EPOCHS = 2 if FAST else 4
SEEN = len(SEEN_DIGITS)  # 7 classes: digits 0-6; digits 7, 8, 9 are never trained on
print(f"fast mode: {FAST}; seen digits {SEEN_DIGITS}, unseen digits {UNSEEN_DIGITS}")

# %% [markdown]
# ## The idea
#
# The last layer of a classifier maps an embedding $x \in \mathbb{R}^D$ to one logit per class,
# $z_j = W_j^\top x + b_j$. Write the dot product with the angle $\theta_j$ between $x$ and $W_j$:
#
# $$z_j = \lVert W_j \rVert\, \lVert x \rVert \cos\theta_j + b_j .$$
#
# $\lVert x \rVert$ is shared by all classes of a sample, so (biases aside) the **smallest angle** wins, weighted
# by $\lVert W_j\rVert$; a longer $x$ only makes softmax more confident. SphereFace (Liu et al. 2017) makes this
# exact in two steps; its Fig. 2 shows each:
#
# | head | logit of class $j$ | decided by |
# |---|---|---|
# | softmax | $\lVert W_j\rVert \lVert x\rVert \cos\theta_j + b_j$ | angle, weight norms, biases |
# | modified softmax | $\lVert x\rVert \cos\theta_j$ ($\lVert W_j\rVert = 1$, $b_j = 0$) | the angle only |
# | A-Softmax (SphereFace) | $\lVert x\rVert \cos\theta_j$; target $\lVert x\rVert\,\psi(\theta_y)$ | the angle, with a margin in training |
#
# with $\psi(\theta) = (-1)^k \cos(m\theta) - 2k$ on $[k\pi/m, (k+1)\pi/m]$: the target class must win with
# angle $m\theta_y$ instead of $\theta_y$. From modified softmax to A-Softmax **only the margin changes**.

# %% [markdown]
# ## The logits, written by hand
#
# We rebuild each head's logits from $\cos\theta_j$ and compare with the library on random inputs.
# (Modified softmax is `SphereFace` with $m = 1$, since $\psi(\theta) = \cos\theta$ then.)

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
y = torch.randint(SEEN, (16,), generator=generator)

softmax_head = Softmax(2, SEEN).double()
cos = cosines(x, softmax_head.weight)
# softmax: |W_j| |x| cos(theta_j) + b_j is exactly W x + b
by_hand = softmax_head.weight.norm(dim=1) * x.norm(dim=1, keepdim=True) * cos + softmax_head.bias
torch.testing.assert_close(by_hand, softmax_head.logits(x))

modified_head = SphereFace(2, SEEN, m=1).double()
# modified softmax: |x| cos(theta_j) for every class, target included
by_hand = x.norm(dim=1, keepdim=True) * cosines(x, modified_head.weight)
torch.testing.assert_close(by_hand, modified_head.logits(x, y))

sphere_head = SphereFace(2, SEEN, m=4).double()
sphere_head.lamb = 0.0  # pure A-Softmax, no annealing
cos = cosines(x, sphere_head.weight)
target = psi(torch.acos(cos.gather(1, y[:, None])), m=4)  # [N, 1]
# A-Softmax: |x| cos(theta_j) for the other classes, |x| psi(theta_y) for the target
by_hand = x.norm(dim=1, keepdim=True) * cos.scatter(1, y[:, None], target)
torch.testing.assert_close(by_hand, sphere_head.logits(x, y))
print("softmax, modified softmax and A-Softmax logits match the library")

# %% [markdown]
# ## Training on digits 0–6, keeping 7–9 as strangers
#
# Face recognition is **open-set**: the people met at test time were never in training. Every network of the
# course trains on digits 0–6 (`openset.SEEN_DIGITS`); digits 7–9 (`UNSEEN_DIGITS`) are the strangers. One small
# CNN per head maps each digit to a point in the plane. A-Softmax uses $m = 4$, faded in by annealing (notebook 03).

# %%
train_split = split_by_class(*mnist(train=True))  # seen digits relabelled 0..6, unseen kept apart
test_images, test_labels = mnist(train=False)
test_images, test_labels = test_images[:TEST_SIZE], test_labels[:TEST_SIZE]
x_train, y_train = train_split.seen_images[:TRAIN_SIZE], train_split.seen_labels[:TRAIN_SIZE]
seen_test = test_labels < SEEN  # digits 0-6 keep their labels as class indices

heads = {
    "softmax": Softmax(2, SEEN),
    "modified softmax": SphereFace(2, SEEN, m=1),
    "A-Softmax (m = 4)": SphereFace(2, SEEN, m=4),
}
runs = {}
for name, head in heads.items():
    seed_everything(0)
    model = EmbeddingNet(embedding_dim=2, widths=(16, 32, 64), hidden=64)
    history = fit(model, head, x_train, y_train, epochs=EPOCHS, batch_size=64, lr=1e-2, progress=False)
    if isinstance(head, SphereFace):
        head.lamb = head.lamb_min  # the margin it trained with at the end (fit leaves the pure formula, lambda = 0)
    features = embed(model, test_images)  # [N, 2], all ten digits
    seen_accuracy = accuracy(predict(head, features[seen_test]), test_labels[seen_test])
    runs[name] = {"head": head, "features": features, "history": history, "accuracy": seen_accuracy}
    print(f"{name:>18}: training loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}, "
          f"test accuracy on digits 0-6 {seen_accuracy:.3f}")

# %%
# Checks that fail the notebook if training did not work (valid in fast mode too). Chance is 1/7.
for name, run in runs.items():
    assert run["history"]["loss"][-1] < run["history"]["loss"][0], f"{name}: the loss did not decrease"
    assert run["accuracy"] > (0.5 if FAST else 0.85), f"{name}: test accuracy {run['accuracy']:.3f}"

# %% [markdown]
# ## Six panels: SphereFace's Fig. 2 on MNIST
#
# Top: test features (digits 0–6 coloured, unseen 7–9 black), class weights $W_j$ as arrows, **decision
# boundaries** as black lines. Bottom: the same features by angle, one histogram per class, decision boundaries
# dotted. For A-Softmax the shaded bands are where each class wins **with its training margin** (at the
# $\lambda$ training ended with); between them lie the gaps the margin asks for.

# %%
CLASS_COLORS = plt.get_cmap("tab10")(np.arange(10))


def predicted_class(head, points: np.ndarray) -> np.ndarray:
    """The head's test-time decision (argmax of the logits, no margin) at 2-D points [P, 2] -> [P]."""
    return predict(head, torch.as_tensor(points, dtype=torch.float32)).numpy()


def boundary_angles(head, radius: float, *, resolution: int = 3600) -> np.ndarray:
    """Angles (degrees) on the circle of ``radius`` where the head's predicted class changes."""
    phi = np.linspace(-np.pi, np.pi, resolution, endpoint=False)
    region = predicted_class(head, radius * np.stack([np.cos(phi), np.sin(phi)], axis=1))
    return np.degrees(phi[region != np.roll(region, 1)])


def trained_region(directions: torch.Tensor, head) -> torch.Tensor:
    """The class whose margin region *as trained* holds each direction [P, D] -> [P]; -1 in a gap.

    Class y holds x where training_target(cos theta_y) > cos theta_j for every j != y: the head's own
    training blend (for A-Softmax, psi faded in with the lambda it ended at), not the pure formula.
    """
    # cosines to every class weight: [P, C]
    cos = F.normalize(directions, dim=1) @ F.normalize(head.weight.detach(), dim=1).T
    # every column taken as the target, with the margin the head trained with: [P, C]
    target = head.training_target(cos)
    # class y beats class j with margin (a class need not beat itself): [P, C, C]
    beats = (target[:, :, None] > cos[:, None, :]) | torch.eye(cos.shape[1], dtype=torch.bool)
    inside = beats.all(dim=2)  # [P, C]
    return torch.where(inside.any(dim=1), inside.float().argmax(dim=1), -1)


def plot_euclidean(features, labels, head, *, ax, title: str):
    """2-D features (seen coloured, unseen black), class weights as arrows, decision boundaries."""
    f, seen = features.numpy(), labels.numpy() < SEEN
    reach = np.percentile(np.linalg.norm(f, axis=1), 95)
    limit = 1.3 * reach
    grid = np.linspace(-limit, limit, 300)
    gx, gy = np.meshgrid(grid, grid)
    region = predicted_class(head, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    for j in range(SEEN):  # the outline of each class's region: its decision boundaries
        ax.contour(gx, gy, (region == j).astype(float), levels=[0.5], colors="black", linewidths=0.8)
    ax.scatter(*f[seen].T, c=CLASS_COLORS[labels[seen]], s=3, alpha=0.5)
    ax.scatter(*f[~seen].T, c="black", s=3, alpha=0.4, label="unseen 7, 8, 9")
    for j, direction in enumerate(F.normalize(head.weight.detach(), dim=1).numpy()):
        ax.annotate("", xy=direction * reach, xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": CLASS_COLORS[j], "linewidth": 2})
        ax.text(*(direction * reach * 1.12), str(j), color=CLASS_COLORS[j], fontsize=11, ha="center", va="center")
    ax.set(title=title, xlabel="feature 1", ylabel="feature 2", aspect="equal", xlim=(-limit, limit), ylim=(-limit, limit))
    ax.legend(loc="lower right")


def plot_angular(features, labels, head, *, ax, title: str, margin: bool):
    """Per-class histograms of the feature angle; decision boundaries dotted; margin regions shaded."""
    angle = np.degrees(np.arctan2(features[:, 1].numpy(), features[:, 0].numpy()))
    bins = np.linspace(-180, 180, 145)
    if margin:  # shade each class's trained margin region on the circle
        phi = np.linspace(-np.pi, np.pi, 3601)
        directions = torch.as_tensor(np.stack([np.cos(phi), np.sin(phi)], axis=1), dtype=torch.float32)
        region = trained_region(directions, head).numpy()
        for j in range(SEEN):
            ax.fill_between(np.degrees(phi), 0, 1, where=region == j, transform=ax.get_xaxis_transform(),
                            color=CLASS_COLORS[j], alpha=0.2, linewidth=0)
    for j in range(SEEN):
        ax.hist(angle[labels.numpy() == j], bins=bins, color=CLASS_COLORS[j], alpha=0.8, label=str(j))
    ax.hist(angle[labels.numpy() >= SEEN], bins=bins, histtype="step", color="black", linewidth=1, label="7-9")
    radius = float(np.median(features.norm(dim=1)))
    for boundary in boundary_angles(head, radius):
        ax.axvline(boundary, color="black", linestyle=":", linewidth=1)
    ax.set(title=title, xlabel="angle of the feature (degrees)", ylabel="test digits", xlim=(-180, 180),
           xticks=range(-180, 181, 90))


fig, axes = plt.subplots(2, 3, figsize=(15, 10))
for column, (name, run) in enumerate(runs.items()):
    plot_euclidean(run["features"], test_labels, run["head"], ax=axes[0, column],
                   title=f"{name}: accuracy on 0-6 {run['accuracy']:.1%}")
    plot_angular(run["features"], test_labels, run["head"], ax=axes[1, column], title=f"{name}: by angle",
                 margin=name.startswith("A-Softmax"))
fig.legend(*axes[1, 0].get_legend_handles_labels(), loc="lower center", ncol=SEEN + 1, title="digit")
plt.tight_layout(rect=(0, 0.05, 1, 1))
plt.show()
a_softmax = runs["A-Softmax (m = 4)"]
in_band = (trained_region(a_softmax["features"][seen_test], a_softmax["head"]) == test_labels[seen_test]).float().mean()
print(f"A-Softmax: seen test digits inside their own shaded band: {in_band:.1%}")
assert in_band > 0.5, "most seen digits should sit inside the band of their class"

# %% [markdown]
# What to see:
# - **Softmax**: radial petals; boundaries need not pass through the origin (biases), and the weight norms move
#   them off the bisectors of the arrows.
# - **Modified softmax**: boundaries are rays through the origin, on the bisectors; classes touch there.
# - **A-Softmax**: the same boundaries at test time, but training pulled most of each class inside its shaded
#   band (counted under the figure).
#
# A check of the "angular" claim: double every feature. Softmax predictions hardly change (biases matter near
# the origin); for the other two they cannot change.

# %%
for name, run in runs.items():
    seen_features = run["features"][seen_test]
    unchanged = (predict(run["head"], seen_features) == predict(run["head"], 2 * seen_features)).float().mean()
    print(f"{name:>18}: predictions unchanged when every feature is doubled: {unchanged:.1%}")
    floor = 1.0 if name != "softmax" else (0.8 if FAST else 0.9)
    assert unchanged >= floor, f"{name}: the decision depends on the feature length ({unchanged:.1%})"

# %% [markdown]
# ## Closed-set training does not solve open-set recognition
#
# The black points, digits 7–9, land in no "unknown" region: a classifier has none. Every direction belongs to one
# of the seven known classes, so each stranger is **named as someone known**. Does a low confidence give them
# away? Below: the highest class probability of seen and unseen test digits (all three heads learn their scale,
# so none is capped below 1).

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for ax, (name, run) in zip(axes, runs.items(), strict=True):
    # test-time probabilities (no margin): [N, 7]
    probability = torch.softmax(run["head"].logits(run["features"]), dim=1).max(dim=1).values.detach()
    run["unseen_confident"] = (probability[~seen_test] > 0.9).float().mean().item()
    # how well the highest probability tells seen (1) from unseen (0) digits: 0.5 = not at all, 1 = perfectly
    run["auroc"] = roc_auc_score(seen_test.numpy(), probability.numpy())
    bins = np.linspace(0, 1, 21)
    ax.hist(probability[seen_test].numpy(), bins=bins, alpha=0.6, density=True, label="seen digits 0-6")
    ax.hist(probability[~seen_test].numpy(), bins=bins, alpha=0.6, density=True, color="black",
            label="unseen digits 7-9")
    ax.set(title=f"{name}\nunseen with p > 0.9: {run['unseen_confident']:.0%}; AUROC {run['auroc']:.2f}",
           xlabel="highest class probability", ylabel="density")
    ax.legend(loc="upper left")
plt.tight_layout()
plt.show()
for name, run in runs.items():
    print(f"{name:>18}: unseen digits with p > 0.9: {run['unseen_confident']:.1%}, AUROC seen vs unseen {run['auroc']:.3f}")
    assert run["auroc"] < 0.99, f"{name}: the probability separates unseen digits almost perfectly"
    assert 0.5 < run["auroc"], f"{name}: strangers are not less confident than known digits"
    assert run["unseen_confident"] > 0, f"{name}: no unseen digit above p = 0.9"

# %% [markdown]
# Strangers get lower confidence on average, but the histograms overlap: some are named with more than 90 %
# confidence, and no threshold separates them cleanly (AUROC 1.0 would). What transfers to strangers is the
# **embedding**: compare a new face with a gallery of faces, not with a fixed list of class weights.
#
# ## The open-set scoreboard
#
# Every lesson measures its embedding the same way, on the unseen digits 7–9 (`openset.openset_report`):
# **verification** (same digit or not? ROC AUC, EER, true-accept rate at 1 % and 0.1 % false accepts),
# **recognition** (nearest of 5 gallery images per digit) and **clustering** (k-means: NMI, ARI), each scored
# by the measure its loss trains for (here the cosine).

# %%
reports = {}
for name, run in runs.items():
    unseen = ~seen_test
    reports[name] = openset_report(run["features"][unseen], test_labels[unseen], metric="cosine")
    print(f"{name:>18}: {format_report(reports[name])}")
board = Scoreboard()
board.add("softmax", reports["softmax"], dim=2, note="notebook 00, " + ("fast" if FAST else "full") + " mode")
display(Markdown(board.markdown(upto="softmax")))
for name, run in runs.items():
    assert run["accuracy"] > reports[name]["auc"] + 0.1, f"{name}: closed-set accuracy close to open-set AUC"
assert 0.5 < reports["softmax"]["auc"] <= 1.0, "the softmax embedding tells unseen digits apart no better than chance"

# %% [markdown]
# > **Misconception: higher closed-set accuracy means better face recognition.** Accuracy on digits 0–6 asks
# > "which known class?"; the scoreboard asks "same or different?" about classes never seen. Every head above
# > scores far higher on the first than on the second (pinned above); face recognition lives by the second,
# > which notebooks 01–05 try to raise.
#
# ## Interactive: the margin explorer
#
# The modified-softmax features on the unit circle: put a margin $m$ on this trained head and see which samples
# would violate it. Notebooks 03–05 train with these margins.

# %%
# NBVAL_IGNORE_OUTPUT
modified = runs["modified softmax"]
explorer = MarginExplorer(head=modified["head"], embeddings=modified["features"][seen_test],
                          labels=test_labels[seen_test], loss="cosface", m=0.1)
display(explorer)

# %% [markdown]
# ## What to remember
# - Softmax logits are $\lVert W_j\rVert\lVert x\rVert\cos\theta_j + b_j$: the angle decides, the length sets the confidence.
# - Modified softmax ($\lVert W_j\rVert = 1$, $b_j = 0$) decides by angle alone; A-Softmax adds a margin to that, and
#   nothing else: narrower classes, gaps between them.
# - A closed-set classifier names every stranger as someone it knows, often confidently. Open-set recognition
#   compares embeddings.

# %% [markdown]
# ## Going further
#
# ### The scale $s$ of a normalised head: necessary, not sufficient
#
# NormFace (Wang et al. 2017) normalises $x$ too: logits $s\cos\theta_j$ with a fixed $s$. The probability of the
# correct class is then capped even at $\theta_y = 0$, and NormFace derives a lower bound: to let it reach $P$ with
# $C$ classes, $s \ge \frac{C-1}{C}\ln\frac{(C-1)P}{1-P}$. The bound assumes the class weights form a **regular
# simplex** (every pair at the same angle, $\cos = -1/(C-1)$), which needs $D \ge C - 1$ dimensions. In 2-D the
# neighbours of a class sit much closer, so at the bound the probability falls well short of $P$:

# %%
def best_probability(s: float, weight_cosines: torch.Tensor) -> float:
    """Probability of the target class for a feature on its own class weight: e^s / sum_j e^(s cos_j)."""
    return float(torch.softmax(s * weight_cosines, dim=0)[0])


for classes in (SEEN, 10):
    bound = (classes - 1) / classes * math.log((classes - 1) * 0.9 / 0.1)
    simplex = torch.tensor([1.0] + [-1.0 / (classes - 1)] * (classes - 1), dtype=torch.float64)
    circle = torch.cos(torch.arange(classes, dtype=torch.float64) * 2 * math.pi / classes)  # evenly spaced in 2-D
    on_simplex, on_circle = best_probability(bound, simplex), best_probability(bound, circle)
    print(f"C = {classes:2d}: bound s >= {bound:.2f}; at that s: simplex P = {on_simplex:.3f}, "
          f"evenly spaced on a circle P = {on_circle:.3f}")
    assert abs(on_simplex - 0.9) < 1e-9, "the bound is exact for a simplex"
    assert on_circle < 0.7, "2-D cannot hold the simplex: the bound is not enough there"

# %% [markdown]
# So a scale chosen by the bound is a floor, not a recipe: in 2-D, $s$ must be larger still, or every probability
# stays capped. A cap also distorts confidence-based comparisons: a normalised head with a small fixed $s$ cannot
# reach $p > 0.9$ at all, so "few strangers above 0.9" would say nothing about strangers. That is why the
# comparison above uses heads that learn their scale.
#
# ### At full scale (closed set)
#
# The notebook trains on a subset for a few epochs. The same heads trained by the command-line tool on all 60 000
# training digits, all ten classes (one seed, measured; every run in `docs/results.md`):
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
# print(accuracy(predict(run["head"], run["features"][seen_test]), test_labels[seen_test]))
# ```
# Only features near the origin can change class: far from it $\lVert W_j\rVert \lVert x\rVert$ dwarfs the
# biases, so the decision is made by the angle (and the weight norms). This is why SphereFace drops the bias.
# </details>
#
# **2.** Train a normalised softmax, `NormFace(2, SEEN, s=s)`, for $s$ = 1, the bound for 7 classes and
# $P = 0.9$ (printed above), and 20. Compare the final training loss with the lowest the loss can reach,
# $-\ln$ of the best probability.
#
# <details><summary>Solution</summary>
#
# ```python
# from minifacenet.losses import NormFace
#
# circle = torch.cos(torch.arange(SEEN, dtype=torch.float64) * 2 * math.pi / SEEN)
# for s in (1.0, (SEEN - 1) / SEEN * math.log((SEEN - 1) * 9), 20.0):
#     seed_everything(0)
#     head = NormFace(2, SEEN, s=s)
#     model = EmbeddingNet(embedding_dim=2, widths=(16, 32, 64), hidden=64)
#     history = fit(model, head, x_train, y_train, epochs=EPOCHS, batch_size=64, lr=1e-2, progress=False)
#     print(f"s = {s:.2f}: final loss {history['loss'][-1]:.3f}, floor {-math.log(best_probability(s, circle)):.3f}")
# ```
# With $s = 1$ the best probability is $e / (e + \sum_{j \ne y} e^{\cos\theta_j})$, far below 1: the loss cannot get
# near 0 and the gradient never fades. At the bound the floor is still high in 2-D (the evenly spaced circle is the
# best 2-D arrangement); only a larger $s$ lets the loss fall.
# </details>
#
# **3.** Try to reject the strangers: for the modified softmax, choose the threshold on the highest cosine
# $\max_j \cos\theta_j$ that keeps 95 % of the seen test digits. What fraction of digits 7–9 does it reject?
#
# <details><summary>Solution</summary>
#
# ```python
# run = runs["modified softmax"]
# best_cos = cosines(run["features"], run["head"].weight).max(dim=1).values.detach()
# threshold = torch.quantile(best_cos[seen_test], 0.05)
# print(f"rejected unseen digits: {(best_cos[~seen_test] < threshold).float().mean():.1%}")
# ```
# The strangers lie on the same circle as the known digits, often close to a class weight: a closed-set head
# leaves no room for "none of the above". Margins (03–05) shrink each class to a narrower cone, which helps,
# but the real answer is to compare embeddings with each other.
# </details>
#
# **4.** Start a normalised softmax, `NormFace(2, SEEN, s=10.0)`, from random class directions instead of evenly
# spaced ones (`torch.nn.init.xavier_uniform_(head.weight)` before training). Where do the arrows end up?
#
# <details><summary>Solution</summary>
#
# Two random directions can start a few degrees apart; their classes then share one arc and neither wins clearly.
# On a circle a class cannot walk past its neighbours to a free spot, because every other class pushes it back.
# That is why the library starts the class weights evenly spaced (`losses.spread_directions`); in 128 dimensions
# random directions are already nearly orthogonal, which is why the papers never needed this.
# </details>
