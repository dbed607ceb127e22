# %% [markdown]
# # 04 · CosFace: a margin on the cosine
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/04_cosface.ipynb)
#
# **What you will learn**
# - CosFace's large margin cosine loss: subtract $m$ from the target cosine, $s(\cos\theta_y - m)$, with
#   features and weights on the unit sphere and a fixed scale $s$.
# - Why $s$ cannot be small (a lower bound from the number of classes) and why $m$ cannot be large
#   (in 2-D: $m \le 1 - \cos(2\pi/C)$).
# - What the margin does to 2-D features: the CosFace paper's toy experiment with 8 identities and
#   $m = 0, 0.1, 0.2$; and the same loss in 3-D, on the sphere.
#
# Previous: [03 · SphereFace](03_sphereface.ipynb) · Next: [05 · ArcFace](05_arcface.ipynb)

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
import os

import matplotlib.pyplot as plt
import numpy as np
import plotly.io as pio
import torch

from minifacenet import viz
from minifacenet.data import mnist
from minifacenet.geometry import cosface_margin_upper_bound, scale_lower_bound
from minifacenet.losses import CosFace, NormFace
from minifacenet.metrics import accuracy, angle_statistics
from minifacenet.models import EmbeddingNet
from minifacenet.train import embed, fit, predict, seed_everything
from minifacenet.widgets import MarginExplorer

# Fast mode (CI sets MINIFACENET_FAST=1) shrinks data and epochs; full mode is what you run.
FAST = os.environ.get("MINIFACENET_FAST") == "1"
seed_everything(0)
TOY_SIZE = 4000 if FAST else 16000  # training digits 0-7 for each of the three 2-D toy models
TRAIN_SIZE_3D = 3000 if FAST else 10000  # training digits 0-9 for the 3-D model
TEST_SIZE = 2000 if FAST else 10000  # test digits (before keeping 0-7 for the toy)
EPOCHS = 3 if FAST else 5
BATCH = 64 if FAST else 128  # small batches: more steps from few images
plt.rcParams["figure.dpi"] = 80
# plotly: Colab needs its own renderer; JupyterLab, Notebook 7 and VS Code draw the plotly mimetype
pio.renderers.default = "colab" if IN_COLAB else "plotly_mimetype"
print(f"fast mode: {FAST}")

# %% [markdown]
# ## 1 · The idea: a gap between cosines
#
# Start from the normalised softmax (NormFace, notebook 00): features $x$ and class weights $W_j$ are
# L2-normalised, so each logit is $s\cos\theta_j$ with a fixed scale $s$. It separates classes but asks
# for nothing more: a sample on the boundary $\cos\theta_1 = \cos\theta_2$ already counts as learned.
# CosFace (the *large margin cosine loss*, LMCL) makes the target class work harder by subtracting a
# margin $m$ from its cosine, during training only:
#
# $$L_\text{LMCL} = -\log\frac{e^{s(\cos\theta_y - m)}}{e^{s(\cos\theta_y - m)} + \sum_{j\ne y} e^{s\cos\theta_j}}$$
#
# For two classes, class 1 now wins only where $\cos\theta_1 - m > \cos\theta_2$, class 2 only where
# $\cos\theta_2 - m > \cos\theta_1$; between the two boundaries lies a margin that belongs to nobody.
# The paper uses $s = 64$, $m = 0.35$ for 10,000 identities in 512-D; our 2-D digits need far less.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), constrained_layout=True)
for ax, m in zip(axes, (0.0, 0.1, 0.2), strict=True):
    viz.plot_binary_boundaries(loss="cosface", m=m, ax=ax)
plt.show()

# %% [markdown]
# ## 2 · CosFace is one method
#
# The normalised softmax head has the hook `target_cosine(cos)` that returns the target cosine unchanged.
# CosFace overrides that one method:

# %%
class MyCosFace(NormFace):
    """CosFace / LMCL: target logit s (cos(theta_y) - m); everything else is NormFace."""

    def __init__(self, embedding_dim, num_classes, *, s=10.0, m=0.1):
        super().__init__(embedding_dim, num_classes, s=s)
        self.m = m

    def target_cosine(self, cos):
        # subtract the margin from the target-class cosine [N]
        return cos - self.m


# %% [markdown]
# Checked against the library's `CosFace`: the same weights, the same inputs, the same logits and loss.

# %%
seed_everything(0)
library = CosFace(2, 8, s=10.0, m=0.2)
mine = MyCosFace(2, 8, s=10.0, m=0.2)
mine.load_state_dict(library.state_dict())  # the same class weights W [8, 2]
x = torch.randn(256, 2)  # 256 random 2-D features
y = torch.randint(0, 8, (256,))
torch.testing.assert_close(mine.logits(x, y), library.logits(x, y))
torch.testing.assert_close(mine(x, y), library(x, y))
torch.testing.assert_close(mine.logits(x), library.logits(x))  # test time: no margin
print("MyCosFace equals minifacenet.losses.CosFace")

# %% [markdown]
# ## 3 · How large must $s$ be, how large may $m$ be?
#
# **A lower bound on $s$.** The probability of the right class is a softmax over logits that all lie in
# $[-s, s]$: with a small $s$ even a perfect feature ($\cos\theta_y = 1$) cannot reach a high probability.
# If the $C$ class weights are spread so that they sum to zero, the other classes' cosines average at least
# $-1/(C-1)$, and asking for a target probability $P_W$ gives (CosFace paper, eq. 7; NormFace)
#
# $$s \ \ge\ \frac{C-1}{C}\,\ln\frac{(C-1)\,P_W}{1-P_W}.$$
#
# **An upper bound on $m$ (2-D).** In 2-D, $C$ classes share one circle; evenly spread, neighbouring
# weights are $2\pi/C$ apart. A feature lying exactly on its own weight has $\cos\theta_y = 1$ and
# $\cos\theta_\text{neighbour} = \cos(2\pi/C)$; even this best case satisfies the margin only if
#
# $$m \ \le\ 1 - \cos\frac{2\pi}{C}.$$
#
# With larger $m$ no feature can satisfy the margin, and training fails. In 512-D the paper allows up to
# $C/(C-1)$ (for $C \le D + 1$) and finds $m = 0.35$ best.

# %%
# NBVAL_CHECK_OUTPUT
print(" C   s >= (P=0.9)   s >= (P=0.99)   2-D CosFace m <=")
for num_classes in (2, 6, 8, 10, 100, 10575):
    print(f"{num_classes:5d} {scale_lower_bound(num_classes, 0.9):10.2f} {scale_lower_bound(num_classes, 0.99):14.2f}"
          f" {cosface_margin_upper_bound(num_classes):16.3f}")

# %%
classes = np.arange(2, 101)
fig, (ax_s, ax_m) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
for target in (0.9, 0.99, 0.999):
    ax_s.plot(classes, [scale_lower_bound(c, target) for c in classes], label=f"P_W = {target}")
ax_s.set(xlabel="number of classes C", ylabel="lowest useful s", title="lower bound on the scale s")
ax_s.legend()
ax_m.plot(classes[:30], [cosface_margin_upper_bound(c) for c in classes[:30]], "o-", ms=3)
for c in (8, 10):
    ax_m.annotate(f"C = {c}: m ≤ {cosface_margin_upper_bound(c):.3f}", (c, cosface_margin_upper_bound(c)),
                  xytext=(15, 15), textcoords="offset points", arrowprops={"arrowstyle": "->"})
ax_m.set(xlabel="number of classes C", ylabel="largest m", title="2-D features: upper bound on CosFace's m")
plt.show()

# %% [markdown]
# What $s$ does, for 8 classes evenly spread: the probability of class 0 for a unit feature at angle
# $\varphi$ from $W_0$, at $s = 10$ with $m = 0.1$ (the margin makes the training target stricter), without
# margin, and at the lowest $s$ allowed for $P_W = 0.9$. Right: where $(s, m) = (10, 0.1)$ sits between
# the bounds.

# %%
viz.plot_probability_vs_s(loss="cosface", m=0.1, s=10.0, num_classes=8)
plt.show()

# %% [markdown]
# ## 4 · The toy experiment: 8 identities, 2-D features, $m = 0, 0.1, 0.2$
#
# The CosFace paper (Fig. 4) trains 2-D features of 8 identities with $m = 0$ (plain normalised
# softmax), $0.1$ and $0.2$, and shows them on the circle: the larger the margin, the tighter each class
# and the wider the empty gaps. We do the same with the digits 0–7 ($s = 10$; the bound for $C = 8$ is
# $m \le 0.293$), warming the margin up from 0 during the first half of training.

# %%
train_images, train_labels = mnist(train=True)
test_images, test_labels = mnist(train=False)
test_images, test_labels = test_images[:TEST_SIZE], test_labels[:TEST_SIZE]
keep = train_labels < 8
toy_images, toy_labels = train_images[keep][:TOY_SIZE], train_labels[keep][:TOY_SIZE]
keep = test_labels < 8
toy_test_images, toy_test_labels = test_images[keep], test_labels[keep]
print(f"toy: {len(toy_images)} training and {len(toy_test_images)} test digits of 8 classes; {EPOCHS} epochs")


def train(head_class, images, labels, *, embedding_dim, **params):
    """A fresh EmbeddingNet and head trained together (margin warmed up over half the steps).

    Seeded first, so every call starts from the same network weights and class weights.
    """
    seed_everything(0)
    net = EmbeddingNet(embedding_dim=embedding_dim)
    head = head_class(embedding_dim, int(labels.max()) + 1, **params)
    history = fit(net, head, images, labels, epochs=EPOCHS, batch_size=BATCH, lr=1e-2,
                  margin_warmup=0.5, progress=False)
    return net, head, history


# %%
MARGINS = (0.0, 0.1, 0.2)
toy = {}
for m in MARGINS:
    net, head, history = train(CosFace, toy_images, toy_labels, embedding_dim=2, s=10.0, m=m)
    emb = embed(net, toy_test_images)  # [N, 2]
    toy[m] = {"head": head, "embeddings": emb, "history": history,
              "accuracy": accuracy(predict(head, emb), toy_test_labels),
              "angles": angle_statistics(emb, toy_test_labels, weight=head.weight)}
    print(f"m = {m}: loss per epoch {[round(v, 3) for v in history['loss']]}, test accuracy "
          f"{toy[m]['accuracy']:.4f}, intra-class angle {toy[m]['angles']['intra']:.1f} deg")

# %%
# the notebook fails here if a toy model did not train; m = 0 (NormFace) trains poorly in 2-D, see below
for m, run in toy.items():
    floor = (0.2 if FAST else 0.3) if m == 0 else (0.5 if FAST else 0.75)  # chance: 0.125
    assert run["history"]["loss"][-1] < run["history"]["loss"][0], f"m = {m}: the loss did not decrease"
    assert run["accuracy"] > floor, f"m = {m}: test accuracy {run['accuracy']:.3f}"
assert max(MARGINS) <= cosface_margin_upper_bound(8)

# %% [markdown]
# The test digits on the unit circle for each margin (CosFace, Fig. 4). Coloured arcs: where each class
# wins with the margin the model was trained with; grey: the margin gaps; red rings: test digits that
# violate that margin.
#
# Compare the panels with the printed accuracies and intra-class angles. The paper's figure shows classes
# tightening as $m$ grows. Our runs are short and noisier: in fast mode (what CI runs) the model without a
# margin lags far behind (notebook 00 saw the same for the normalised softmax in 2-D), while in the full run
# all three end with similar accuracy and intra-class angles. What the margin changes every time is the
# geometry of the decision regions: the grey gaps between the arcs, where no class wins with margin.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 5.2), constrained_layout=True)
for ax, (m, run) in zip(axes, toy.items(), strict=True):
    viz.plot_margin_circle(run["embeddings"], toy_test_labels, run["head"].weight, loss="cosface", m=m,
                           s=10.0, ax=ax, max_points=2000)
    ax.set_title(f"CosFace m = {m}: test accuracy {run['accuracy']:.3f}\n" + ax.get_title(), fontsize=9)
plt.show()

# %% [markdown]
# ## 5 · CosFace in 3-D: features on the sphere
#
# With a third dimension the ten digits have room, and the same margin leaves clear empty bands between
# classes. We train on all ten digits with $m = 0.2$.

# %%
net3, head3, history3 = train(CosFace, train_images[:TRAIN_SIZE_3D], train_labels[:TRAIN_SIZE_3D],
                              embedding_dim=3, s=10.0, m=0.2)
embeddings3 = embed(net3, test_images)  # [N, 3]
accuracy3 = accuracy(predict(head3, embeddings3), test_labels)
print(f"3-D CosFace: loss per epoch {[round(v, 3) for v in history3['loss']]}, test accuracy {accuracy3:.4f}")
assert history3["loss"][-1] < history3["loss"][0] and accuracy3 > (0.5 if FAST else 0.85)

# %%
fig = plt.figure(figsize=(11, 5.2), constrained_layout=True)
for k, (elev, azim) in enumerate(((20, 30), (-30, 210))):
    ax = fig.add_subplot(1, 2, k + 1, projection="3d")
    viz.plot_sphere_static(embeddings3, test_labels, head3.weight, loss="cosface", m=0.2, s=10.0,
                           elev=elev, azim=azim, ax=ax)
    ax.set_title(f"CosFace m = 0.2, 3-D (view {k + 1}): {ax.get_title()}")
plt.show()

# %% [markdown]
# Rotatable (drag it): each class's margin cap in colour, gaps grey, red crosses for test digits that
# violate the margin.

# %%
# NBVAL_IGNORE_OUTPUT
viz.plot_sphere(embeddings3, test_labels, head3.weight, loss="cosface", m=head3.m, s=head3.s,
                max_points=1500, resolution=30).show()

# %% [markdown]
# ## 6 · Interactive: the margin explorer
#
# The explorer shows the $m = 0.1$ toy model. Move **m** past the bound $1 - \cos(2\pi/8) = 0.293$ and
# watch the coloured arcs vanish; move **s** and watch the probability curve (bottom right) sharpen; switch
# the **loss** to see the same features through ArcFace's or SphereFace's margin.

# %%
# NBVAL_IGNORE_OUTPUT
MarginExplorer(head=toy[0.1]["head"], embeddings=toy[0.1]["embeddings"], labels=toy_test_labels)

# %% [markdown]
# ## At full scale
#
# This notebook trains on a subset for a few epochs so that it runs in minutes on a laptop CPU. The same losses
# trained by the command-line tool on all 60 000 training digits (one seed, measured; the README's table,
# every run in `docs/results.md`):
#
# | head | test accuracy | command |
# |---|---|---|
# | CosFace m = 0.1, s = 16, 2-D | 98.56 % | `python -m minifacenet train --loss cosface --dim 2 --margin 0.1 --scale 16 --lr 0.01 --epochs 10` |
# | CosFace m = 0.2, s = 16, 3-D | 99.32 % | `python -m minifacenet train --loss cosface --dim 3 --margin 0.2 --scale 16 --lr 0.01 --epochs 10` |

# %% [markdown]
# ## Exercises
#
# **1.** The paper trains on CASIA-WebFace, 10,575 identities, with $s = 64$. What does the lower bound ask
# for with $P_W = 0.9$? Why might one still pick a much larger $s$?
#
# <details><summary>Solution</summary>
#
# ```python
# print(scale_lower_bound(10575, 0.9))   # 11.46
# ```
# About $s \ge 11.5$. The bound assumes the best case: a feature exactly on its weight and the other weights
# spread perfectly. Real features are not on their weights, and with the margin the target logit is
# $s(\cos\theta_y - m)$, so a larger $s$ leaves room for both.
# </details>
#
# **2.** Check the 2-D bound with the library's geometry: for 8 evenly spread weights, at which $m$ do the
# margin arcs of CosFace vanish?
#
# <details><summary>Solution</summary>
#
# ```python
# from minifacenet.geometry import arc_lengths, make_head, margin_arcs
# W = viz.even_weights(8)
# for m in (0.2, 0.29, 0.292, 0.294):
#     print(m, arc_lengths(margin_arcs(W, make_head("cosface", m=m, weight=W))).round(4))
# print(cosface_margin_upper_bound(8))   # 0.2929: arcs exist below it, none above
# ```
# </details>
#
# **3.** CosFace's margin is constant in cosine. What gap in *angle* does $m = 0.2$ ask for between two
# classes when $\theta_1 = 10°$, $45°$ and $90°$?
#
# <details><summary>Solution</summary>
#
# On the boundary $\cos\theta_2 = \cos\theta_1 - m$, so the gap is $\arccos(\cos\theta_1 - m) - \theta_1$:
#
# ```python
# import math
# for degrees in (10, 45, 90):
#     t = math.radians(degrees)
#     print(degrees, math.degrees(math.acos(math.cos(t) - 0.2) - t))   # 28.3, 14.5, 11.5 degrees
# ```
# The gap is wide near $0°$ and narrowest at $90°$: a margin in cosine is not a margin in angle. Notebook 05
# (ArcFace) adds the margin to the angle instead.
# </details>

# %% [markdown]
# ## What to remember
#
# - CosFace = normalised softmax with one method changed: the target cosine becomes $\cos\theta_y - m$.
# - $s$ must grow with the number of classes: $s \ge \frac{C-1}{C}\ln\frac{(C-1)P_W}{1-P_W}$; the paper's
#   $s = 64$, $m = 0.35$ are for 10k identities in 512-D.
# - In 2-D the margin is capped at $1 - \cos(2\pi/C)$ (0.19 for 10 digits, 0.29 for 8): use a small $m$ and
#   warm it up from 0.
# - A margin leaves empty gaps between the classes' regions, on the circle as on the sphere; in the paper it
#   also makes classes tighter (in our short 2-D runs that effect is small and noisy).
