# %% [markdown]
# # 05 · ArcFace: an additive angular margin
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/05_arcface.ipynb)
#
# **What you will learn**
# - ArcFace's target logit $s\cos(\theta_y + m)$: a margin added to the *angle*, so the gap between two
#   classes is the same angle $m$ everywhere, unlike CosFace's margin on the cosine.
# - What goes wrong when $\theta + m > \pi$, and what `easy_margin` and the usual fix do about it, as a
#   picture of the target logit.
# - The combined margin $s(\cos(m_1\theta + m_2) - m_3)$ that contains SphereFace, ArcFace and CosFace.
# - How to measure what a margin does to the features: the angle statistics of ArcFace's Table 3.
#
# Previous: [04 · CosFace](04_cosface.ipynb) · Next: [06 · Faces](06_faces.ipynb)

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
import io
import math
import os

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import plotly.io as pio
import torch
from matplotlib.figure import Figure

from minifacenet import viz
from minifacenet.data import mnist
from minifacenet.losses import ArcFace, CosFace, NormFace, target_logit_curve
from minifacenet.metrics import accuracy, angle_statistics
from minifacenet.models import EmbeddingNet
from minifacenet.train import embed, fit, predict, seed_everything
from minifacenet.widgets import MarginExplorer

# Fast mode (CI sets MINIFACENET_FAST=1) shrinks data and epochs; full mode is what you run.
FAST = os.environ.get("MINIFACENET_FAST") == "1"
seed_everything(0)
TRAIN_SIZE = 6000 if FAST else 20000  # MNIST training digits for the 2-D model
TRAIN_SIZE_3D = 3000 if FAST else 10000  # ... and for each of the two 3-D models
TEST_SIZE = 2000 if FAST else 10000  # MNIST test digits we embed and plot
EPOCHS = 3 if FAST else 5
BATCH = 64 if FAST else 128  # small batches: more steps from few images
plt.rcParams["figure.dpi"] = 80
# plotly: Colab needs its own renderer; JupyterLab, Notebook 7 and VS Code draw the plotly mimetype
pio.renderers.default = "colab" if IN_COLAB else "plotly_mimetype"
print(f"fast mode: {FAST}")

# %% [markdown]
# ## 1 · The idea: add the margin to the angle
#
# All the heads of this course compute $\cos\theta_j$ between the normalised feature $x$ and the
# normalised class weights $W_j$, and change only the target class $y$:
#
# | loss | target logit | binary boundary (class 1 wins) |
# |---|---|---|
# | normalised softmax | $s\cos\theta_y$ | $\theta_1 = \theta_2$ |
# | SphereFace | $\lVert x\rVert\,\psi(\theta_y)$, $\psi \approx \cos(m\theta)$ | $m\,\theta_1 = \theta_2$ |
# | CosFace | $s(\cos\theta_y - m)$ | $\cos\theta_1 - m = \cos\theta_2$ |
# | **ArcFace** | $s\cos(\theta_y + m)$ | $\theta_1 + m = \theta_2$ |
#
# $$L_\text{ArcFace} = -\log\frac{e^{s\cos(\theta_y + m)}}{e^{s\cos(\theta_y + m)} + \sum_{j\ne y} e^{s\cos\theta_j}}$$
#
# ArcFace's boundary says: a sample of class 1 must be **$m$ radians closer** to $W_1$ than to $W_2$, whatever
# the angles are. CosFace asks for a gap of $m$ in *cosine*; because $\cos$ is flat near $0$ and $\pi$ and
# steep near $90°$, the same cosine gap is a wide angle near $0$ and a narrow one near $90°$. Solving
# $\cos\theta_1 - m = \cos\theta_2$ for $\theta_2$ gives CosFace's angular gap
# $\Delta\theta(\theta_1) = \arccos(\cos\theta_1 - m) - \theta_1$.

# %%
# CosFace's angular gap theta2 - theta1 along the boundary, against ArcFace's constant m
theta1 = np.linspace(0.0, np.pi, 721)
m_demo = 0.35
inside = np.cos(theta1) - m_demo >= -1.0  # beyond this the CosFace boundary leaves [0, pi]
cosface_gap = np.arccos(np.cos(theta1[inside]) - m_demo) - theta1[inside]

fig, (ax_gap, ax_cos, ax_arc) = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
ax_gap.plot(np.degrees(theta1[inside]), np.degrees(cosface_gap), lw=2, label=f"CosFace, m = {m_demo}")
ax_gap.axhline(np.degrees(m_demo), color="C3", lw=2, label=f"ArcFace, m = {m_demo} rad")
ax_gap.set(xlabel="θ1 (degrees)", ylabel="required gap θ2 − θ1 (degrees)",
           title="angular margin along the boundary", ylim=(0, 60))
ax_gap.legend()
viz.plot_binary_boundaries(loss="cosface", m=m_demo, ax=ax_cos)
viz.plot_binary_boundaries(loss="arcface", m=m_demo, ax=ax_arc)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
# the CosFace gap at a few angles: much wider near 0, narrowest (2 arcsin(m/2), about m) near 80 degrees
for degrees in (1, 30, 60, 80, 90, 120):
    t = math.radians(degrees)
    gap = math.degrees(math.acos(math.cos(t) - m_demo) - t)
    print(f"theta1 = {degrees:3d} deg: CosFace gap {gap:5.1f} deg, ArcFace gap {math.degrees(m_demo):5.1f} deg")

# %% [markdown]
# ## 2 · ArcFace is one method
#
# Notebook 04 wrote CosFace as `NormFace` with one method changed: `target_cosine(cos) = cos - m`.
# ArcFace changes that same method, and nothing else: take the angle back with $\arccos$, add $m$,
# take the cosine.

# %%
class MyArcFace(CosFace):
    """ArcFace, the textbook way: target cosine cos(theta_y + m)."""

    def target_cosine(self, cos):
        # theta_y from its cosine [N]; the clamp keeps acos (and its gradient) finite at +-1
        theta = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
        # the margin is added to the angle itself
        return torch.cos(theta + self.m)


# %% [markdown]
# Check it against the library's `ArcFace` on the same weights and inputs (float64, so that the check
# measures the formula and not round-off). Samples with $\theta_y + m \le \pi$ must agree exactly; the
# next section is about the others.

# %%
seed_everything(0)
m_check = 0.5
library = ArcFace(2, 10, s=10.0, m=m_check).double()
mine = MyArcFace(2, 10, s=10.0, m=m_check).double()
mine.load_state_dict(library.state_dict())  # the same class weights W [10, 2]
x = torch.randn(512, 2, dtype=torch.float64)  # 512 random 2-D features
y = torch.randint(0, 10, (512,))
theta_y = torch.acos(library.cosines(x).gather(1, y[:, None]).squeeze(1))
ok = theta_y + m_check <= math.pi  # where the textbook formula is the whole story
torch.testing.assert_close(mine.logits(x[ok], y[ok]), library.logits(x[ok], y[ok]))
torch.testing.assert_close(mine(x[ok], y[ok]), library(x[ok], y[ok]))
print(f"equal on the {int(ok.sum())} samples with theta + m <= pi; {int((~ok).sum())} samples are past pi - m")

# %% [markdown]
# ## 3 · When $\theta + m > \pi$: `easy_margin` and the fix, as a picture
#
# A loss should punish a sample more the farther it is from its class: the target logit must *fall* as
# $\theta$ grows. $\cos(\theta + m)$ falls only until $\theta + m = \pi$; after that it **rises** again
# (dotted curve below). A sample pointing almost away from its class weight ($\theta \to \pi$) would get a
# *better* target logit than one at $\theta = \pi - m$, and gradient descent would push it further away.
#
# Two common answers, both in insightface's code:
#
# * the **fix** (the library's default): past $\theta = \pi - m$ use $\cos\theta - m\sin m$, a CosFace-like
#   curve that keeps falling (it starts a little below $-1$: the solid curve steps down there, as in insightface's
#   code, since $-\cos m - m\sin m < -1$). In code: `th = cos(π − m)`,
#   `mm = sin(π − m)·m = m·sin m`, and `where(cos > th, cos(θ + m), cos − mm)`;
# * **`easy_margin`**: apply the margin only where $\cos\theta > 0$ ($\theta < 90°$) and keep plain
#   $\cos\theta$ beyond. Monotone but with a jump: no margin at all for the hard samples.

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), constrained_layout=True)
curves = ("normface", "cosface", "arcface-naive", "arcface", "arcface-easy")
viz.plot_target_logits(losses=curves, m=0.5, ax=axes[0])
viz.plot_target_logits(losses=curves, m=1.2, ax=axes[1])
for ax, m in zip(axes, (0.5, 1.2), strict=True):
    ax.axvline(math.degrees(math.pi - m), color="0.4", ls="--", lw=0.8)
    ax.annotate("θ = π − m", (math.degrees(math.pi - m), 0.8), xytext=(5, 0), textcoords="offset points")
    ax.set_title(f"target logit / s for m = {m} (paper: m = 0.5)")
plt.show()

# %% [markdown]
# Now the complete method, the fix included (`easy_margin` as an option), and the check on **all**
# samples, this time also those past $\pi - m$:

# %%
class MyArcFaceFixed(MyArcFace):
    """ArcFace with the two answers to theta + m > pi."""

    def __init__(self, embedding_dim, num_classes, *, s=10.0, m=0.2, easy_margin=False):
        super().__init__(embedding_dim, num_classes, s=s, m=m)
        self.easy_margin = easy_margin

    def target_cosine(self, cos):
        shifted = super().target_cosine(cos)  # cos(theta + m) [N]
        if self.easy_margin:
            # the margin only where theta < 90 degrees
            return torch.where(cos > 0, shifted, cos)
        # past theta = pi - m, keep falling with cos(theta) - m sin(m)
        return torch.where(cos > math.cos(math.pi - self.m), shifted, cos - self.m * math.sin(self.m))


for easy in (False, True):
    library = ArcFace(2, 10, s=10.0, m=m_check, easy_margin=easy).double()
    mine = MyArcFaceFixed(2, 10, s=10.0, m=m_check, easy_margin=easy).double()
    mine.load_state_dict(library.state_dict())
    torch.testing.assert_close(mine.logits(x, y), library.logits(x, y))
    torch.testing.assert_close(mine(x, y), library(x, y))
print("MyArcFaceFixed equals minifacenet.losses.ArcFace on all 512 samples, with and without easy_margin")

# %% [markdown]
# ## 4 · The combined margin: $s(\cos(m_1\theta + m_2) - m_3)$
#
# insightface folds the three margins into one target logit: $m_1$ multiplies the angle (SphereFace),
# $m_2$ is added to it (ArcFace), $m_3$ is subtracted from the cosine (CosFace). Settings from the
# ArcFace paper:
#
# | name | $(m_1, m_2, m_3)$ |
# |---|---|
# | normalised softmax | (1, 0, 0) |
# | ArcFace | (1, 0.5, 0) |
# | CosFace | (1, 0, 0.35) |
# | CM1 | (1, 0.3, 0.2) |
# | CM2 | (0.9, 0.4, 0.15) |
#
# (The library's `CombinedMargin` accepts only $m_1 \ge 1$, so CM2's $m_1 = 0.9$, which *widens* the
# angle scale, is left out of the figure.)

# %%
SETTINGS = {"normalised softmax": (1, 0, 0), "ArcFace": (1, 0.5, 0), "CosFace": (1, 0, 0.35), "CM1": (1, 0.3, 0.2)}
theta = torch.linspace(0, math.pi, 361, dtype=torch.float64)
degrees = np.degrees(theta.numpy())


def draw_combined(ax_curve, ax_plane, m1, m2, m3):
    """Target logit of the paper's settings and of (m1, m2, m3); its binary boundary beside."""
    for name, (a, b, c) in SETTINGS.items():
        curve = target_logit_curve("combined", theta, s=1.0, m1=a, m2=b, m3=c)
        ax_curve.plot(degrees, curve, lw=1.2, alpha=0.6, label=f"{name} {a, b, c}")
    mine = target_logit_curve("combined", theta, s=1.0, m1=m1, m2=m2, m3=m3)
    ax_curve.plot(degrees, mine, "k", lw=2.5, label=f"yours ({m1:g}, {m2:g}, {m3:g})")
    ax_curve.set(xlabel="θ (degrees)", ylabel="target logit / s", xlim=(0, 180), ylim=(-2.5, 1.05),
                 title="combined margin: cos(m1·θ + m2) − m3")
    ax_curve.legend(fontsize=8, loc="lower left")
    viz.plot_binary_boundaries(loss="combined", m=m2, m1=m1, m3=m3, ax=ax_plane)


fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True, gridspec_kw={"width_ratios": [3, 2]})
draw_combined(*axes, 1.0, 0.3, 0.2)
plt.show()

# %% [markdown]
# Move the three margins yourself. $m_1$ bends the curve (it is SphereFace's multiplicative margin),
# $m_2$ shifts it to the left, $m_3$ shifts it down; the right panel shows where each of two classes wins
# with margin (grey: neither does).

# %%
# NBVAL_IGNORE_OUTPUT
def margin_slider(name, value, low, high):
    return widgets.FloatSlider(value=value, min=low, max=high, step=0.05, description=name,
                               continuous_update=False)


sliders = {"m1": margin_slider("m1", 1.0, 1.0, 2.0), "m2": margin_slider("m2", 0.3, 0.0, 1.0),
           "m3": margin_slider("m3", 0.2, 0.0, 0.6)}
combined_image = widgets.Image(format="png")


def show_combined(change=None):
    """Redraw the two panels for the sliders' (m1, m2, m3) into the image widget."""
    fig = Figure(figsize=(12, 4.5), dpi=80, layout="constrained")
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    draw_combined(*axes, *(slider.value for slider in sliders.values()))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    combined_image.value = buffer.getvalue()


for slider in sliders.values():
    slider.observe(show_combined, names="value")
show_combined()
widgets.VBox([widgets.HBox(list(sliders.values())), combined_image])

# %% [markdown]
# ## 5 · Training ArcFace on MNIST with 2-D features
#
# With only two dimensions the ten classes share one circle: $36°$ each if spread evenly. An angular
# margin $m$ needs $m < 2\pi/C$ (exercise 3), and in practice much less: we use $s = 10$, $m = 0.2$ rad
# ($11.5°$), and warm the margin up from 0 over the first part of training (`margin_warmup`), since a
# large margin on random features gives the network nothing to hold on to.

# %%
train_images, train_labels = mnist(train=True)
test_images, test_labels = mnist(train=False)
train_images, train_labels = train_images[:TRAIN_SIZE], train_labels[:TRAIN_SIZE]
test_images, test_labels = test_images[:TEST_SIZE], test_labels[:TEST_SIZE]
WARMUP = 0.5  # margin from 0 to m over the first half of training (a fraction of it)
print(f"{len(train_images)} training and {len(test_images)} test digits; {EPOCHS} epochs")

# %%
seed_everything(0)
model = EmbeddingNet(embedding_dim=2)
head = ArcFace(2, 10, s=10.0, m=0.2)
history = fit(model, head, train_images, train_labels, epochs=EPOCHS, batch_size=BATCH,
              lr=1e-2, margin_warmup=WARMUP)
test_embeddings = embed(model, test_images)  # [N, 2]
test_accuracy = accuracy(predict(head, test_embeddings), test_labels)
print(f"loss per epoch: {[round(v, 3) for v in history['loss']]}; test accuracy {test_accuracy:.4f}")

# %%
# the notebook fails here if training did not work
assert history["loss"][-1] < history["loss"][0], "the loss did not decrease"
assert test_accuracy > (0.4 if FAST else 0.9), f"test accuracy {test_accuracy:.3f} is too low"

# %% [markdown]
# The test digits on the unit circle (left) and as the network outputs them (right). The coloured arcs
# are where each class wins **with** the margin, grey sectors are the margin gaps, red rings mark test
# digits that violate the margin (they may still be classified correctly: at test time there is no margin).

# %%
viz.plot_margin_circle(test_embeddings, test_labels, head.weight, loss="arcface", m=head.m, s=head.s,
                       raw=True, max_points=3000)
plt.show()

# %% [markdown]
# ## 6 · 3-D features: ArcFace on the sphere, and what the margin does to angles
#
# In 3-D the classes have room. We train ArcFace ($m = 0.3$) and, for comparison, the normalised softmax
# (NormFace, no margin) with the same network, data and budget.

# %%
def train_3d(head):
    """A 3-D EmbeddingNet trained with ``head``; returns (test embeddings, history)."""
    seed_everything(0)
    net = EmbeddingNet(embedding_dim=3)
    images, labels = train_images[:TRAIN_SIZE_3D], train_labels[:TRAIN_SIZE_3D]
    hist = fit(net, head, images, labels, epochs=EPOCHS, batch_size=BATCH, lr=1e-2,
               margin_warmup=WARMUP, progress=False)
    return embed(net, test_images), hist


seed_everything(0)  # the same initial class weights (and network) for both heads
arc3 = ArcFace(3, 10, s=10.0, m=0.3)
arc3_embeddings, arc3_history = train_3d(arc3)
seed_everything(0)
norm3 = NormFace(3, 10, s=10.0)
norm3_embeddings, norm3_history = train_3d(norm3)
arc3_accuracy = accuracy(predict(arc3, arc3_embeddings), test_labels)
norm3_accuracy = accuracy(predict(norm3, norm3_embeddings), test_labels)
print(f"3-D test accuracy: ArcFace {arc3_accuracy:.4f}, NormFace {norm3_accuracy:.4f}")
assert arc3_history["loss"][-1] < arc3_history["loss"][0]
assert arc3_accuracy > (0.5 if FAST else 0.85) and norm3_accuracy > (0.4 if FAST else 0.6)

# %%
fig = plt.figure(figsize=(11, 5.2), constrained_layout=True)
for k, (emb, hd, loss, m) in enumerate(((norm3_embeddings, norm3, "normface", 0.0),
                                        (arc3_embeddings, arc3, "arcface", 0.3))):
    ax = fig.add_subplot(1, 2, k + 1, projection="3d")
    viz.plot_sphere_static(emb, test_labels, hd.weight, loss=loss, m=m, s=10.0, ax=ax)
plt.show()

# %% [markdown]
# The same ArcFace sphere, rotatable (drag it): each class's **margin cap** (where it wins with margin)
# is coloured, the gaps between caps are grey, red crosses are test digits that violate the margin.

# %%
# NBVAL_IGNORE_OUTPUT
viz.plot_sphere(arc3_embeddings, test_labels, arc3.weight, loss="arcface", m=arc3.m, s=arc3.s,
                max_points=1500, resolution=30).show()

# %% [markdown]
# ### Angle statistics (ArcFace, Table 3)
#
# How does the margin change the geometry? ArcFace's Table 3 measures four angles (in degrees):
#
# * **W-EC**: between each class weight $W_c$ and the centre of its embeddings, averaged over classes;
# * **W-Inter**: between each class weight and its nearest other class weight;
# * **Intra**: between each embedding and its class centre (how tight a class is);
# * **Inter**: between each class centre and its nearest other centre (how far apart classes are).
#
# `minifacenet.metrics.angle_statistics` computes them. The paper's numbers come from 512-D features of
# 10,000 identities, ours from 3-D features of 10 digits; compare the *direction* of each change.

# %%
stats = {"NormFace": angle_statistics(norm3_embeddings, test_labels, weight=norm3.weight),
         "ArcFace": angle_statistics(arc3_embeddings, test_labels, weight=arc3.weight)}
paper = {"NormFace": {"w_ec": 44.26, "w_inter": 69.66, "intra": 50.50, "inter": 59.23},
         "ArcFace": {"w_ec": 14.29, "w_inter": 71.61, "intra": 38.45, "inter": 65.83}}
print(f"{'':10s}" + "".join(f"{key:>20s}" for key in ("W-EC", "W-Inter", "Intra", "Inter")))
for name in stats:
    row = "".join(f"{stats[name][key]:10.2f} ({paper[name][key]:6.2f})"
                  for key in ("w_ec", "w_inter", "intra", "inter"))
    print(f"{name:10s}{row}")
print("ours (paper's Table 3 in brackets), degrees")

# %%
# the margin makes classes tighter: every ArcFace sample sits closer to its class centre
assert stats["ArcFace"]["intra"] < stats["NormFace"]["intra"], stats

# %% [markdown]
# ## 7 · Interactive: the margin explorer
#
# The explorer reuses the 2-D model trained above. Move **m** and watch the margin arcs shrink or grow
# and the violators (red) appear; move **s** and watch the probability curve sharpen (bottom right);
# switch the **loss** to compare CosFace's and SphereFace's regions on the same features. Nothing is
# retrained: the cosines are computed once and only the margin is re-applied.

# %%
# NBVAL_IGNORE_OUTPUT
explorer = MarginExplorer(head=head, embeddings=test_embeddings, labels=test_labels)
explorer

# %% [markdown]
# ## At full scale
#
# This notebook trains on a subset for a few epochs so that it runs in minutes on a laptop CPU. The same losses
# trained by the command-line tool on all 60 000 training digits (one seed, measured; the README's table,
# every run in `docs/results.md`):
#
# | head | test accuracy | command |
# |---|---|---|
# | ArcFace m = 0.3, s = 16, margin warm-up, 2-D | 98.70 % | `python -m minifacenet train --loss arcface --dim 2 --margin 0.3 --scale 16 --lr 0.01 --warmup 1000 --epochs 10` |
# | ArcFace m = 0.2, s = 16, 2-D, 20 epochs | 98.61 % | `python -m minifacenet train --loss arcface --dim 2 --margin 0.2 --scale 16 --lr 0.01 --epochs 20` |
# | ArcFace m = 0.3, s = 16, margin warm-up, 3-D | 99.34 % | `python -m minifacenet train --loss arcface --dim 3 --margin 0.3 --scale 16 --lr 0.01 --warmup 1000 --epochs 10` |

# %% [markdown]
# ## Exercises
#
# **1.** At which $\theta$ does the naive $\cos(\theta + m)$ reach its minimum, and what is the sign of its
# derivative beyond that point? Check numerically with autograd for $m = 0.5$ at $\theta = 170°$.
#
# <details><summary>Solution</summary>
#
# The minimum is at $\theta = \pi - m$ ($151.4°$ for $m = 0.5$). Beyond it
# $\frac{d}{d\theta}\cos(\theta + m) = -\sin(\theta + m) > 0$: the logit rises as the sample moves away, so
# the loss *decreases* by pushing it further from its class.
#
# ```python
# theta = torch.tensor(math.radians(170), requires_grad=True)
# torch.cos(theta + 0.5).backward()
# print(math.degrees(math.pi - 0.5), theta.grad)   # 151.35..., tensor(0.3198) > 0
# ```
# </details>
#
# **2.** pytorch-metric-learning's `ArcFaceLoss(num_classes, embedding_size, margin=28.6, scale=64)` gives its
# margin in **degrees**. Which radian margin is that, and what CosFace margin gives the same angular gap at
# $\theta_1 = 90°$?
#
# <details><summary>Solution</summary>
#
# $28.6° = 0.499$ rad, ArcFace's $m = 0.5$. At $\theta_1 = 90°$ CosFace's gap is
# $\arccos(-m) - \pi/2 = \arcsin m$, so $m = \sin 0.499 = 0.479$ gives the same gap there (and a wider one
# everywhere else).
#
# ```python
# print(math.radians(28.6), math.sin(math.radians(28.6)))   # 0.4992  0.4787
# ```
# </details>
#
# **3.** With 2-D features and $C$ classes whose weights are evenly spaced, what is the largest ArcFace margin
# for which every class still has a margin arc? Compare with CosFace's bound $m \le 1 - \cos(2\pi/C)$, and
# check your answer in the explorer (10 classes: where do the coloured arcs vanish?).
#
# <details><summary>Solution</summary>
#
# Neighbouring weights are $2\pi/C$ apart. A direction at angle $\phi$ from $W_y$ (towards a neighbour) wins
# with margin if $\phi + m < 2\pi/C - \phi$, i.e. $\phi < (2\pi/C - m)/2$: the arc exists while $m < 2\pi/C$
# ($0.628$ rad $= 36°$ for $C = 10$), and its width is $2\pi/C - m$. CosFace's bound is on a cosine:
# $1 - \cos 36° = 0.19$.
#
# ```python
# from minifacenet.geometry import arc_lengths, make_head, margin_arcs
# from minifacenet.viz import even_weights
# W = even_weights(10)
# for m in (0.3, 0.6, 0.62, 0.63):
#     print(m, arc_lengths(margin_arcs(W, make_head("arcface", m=m, weight=W))).round(3))
# ```
# </details>

# %% [markdown]
# ## What to remember
#
# - ArcFace = CosFace with one method changed: the target cosine becomes $\cos(\theta_y + m)$, a margin of
#   $m$ radians in **angle**, the same at every angle (CosFace's is $m$ in cosine: wide near $0°$, narrow
#   near $90°$).
# - $\cos(\theta + m)$ turns back up past $\theta = \pi - m$; the library continues with $\cos\theta - m\sin m$
#   (`th`, `mm` in insightface), `easy_margin` drops the margin past $90°$. Draw the target logit to see it.
# - $s(\cos(m_1\theta + m_2) - m_3)$ contains SphereFace ($m_1$), ArcFace ($m_2$) and CosFace ($m_3$).
# - In 2-D keep $m$ small (0.2 for 10 classes, $m < 2\pi/C$ at most) and warm it up from 0.
# - The margin's effect is measurable: tighter classes (smaller intra-class angle) and weights closer to their
#   class centres (smaller W-EC).
