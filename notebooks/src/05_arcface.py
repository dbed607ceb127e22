# %% [markdown]
# # 05 · ArcFace: an additive angular margin
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/05_arcface.ipynb)
#
# **What you will learn**
# - ArcFace's target logit $s\cos(\theta_y + m)$: a margin on the *angle*, the same gap everywhere.
# - What goes wrong when $\theta + m > \pi$, and where ArcFace's NaNs come from.
# - Where digits the network never saw land on the circle; ArcFace's row of the open-set scoreboard.
# - Going further: the combined margin and ArcFace's angle statistics (Table 3).
#
# Previous: [04 · CosFace](04_cosface.ipynb) · Next: [06 · What helps strangers](06_what_helps_strangers.ipynb)

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
FAST = False  # True: a shortened run, about 0.5 min on a 2-core CPU; False: the full lesson, about 1.5 min
import io
import math
import os

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from minifacenet import viz
from minifacenet.data import mnist
from minifacenet.explorer import MarginExplorer
from minifacenet.losses import ArcFace, CosFace, NormFace, target_logit_curve
from minifacenet.metrics import accuracy, angle_statistics
from minifacenet.models import EmbeddingNet
from minifacenet.train import embed, fit, predict, seed_everything

# MINIFACENET_FAST=1 or 0 (CI, the build script) overrides the FAST line at the top of this cell.
FAST = {"1": True, "0": False}.get(os.environ.get("MINIFACENET_FAST"), FAST)
SEED = int(os.environ.get("MINIFACENET_SEED", "0"))  # the course's asserts hold for other seeds too
seed_everything(SEED)
TRAIN_SIZE = 6000 if FAST else 20000  # MNIST training digits for the 2-D model
TRAIN_SIZE_3D = 3000 if FAST else 10000  # ... and for each of the two 3-D models
TEST_SIZE = 2000 if FAST else 10000  # MNIST test digits we embed and plot
EPOCHS = 3 if FAST else 5
BATCH = 64 if FAST else 128  # the course recipe (minifacenet.recipe) for every head here, but smaller
# batches than its 256: more steps from few images
print(f"fast mode: {FAST}")


# %% [markdown]
# ## 1 · The idea: add the margin to the angle
#
# Every head of this course computes $\cos\theta_j$ between the normalised feature and the normalised class
# weights, and changes only the target class $y$:
#
# | loss | target logit | binary boundary (class 1 wins) |
# |---|---|---|
# | normalised softmax | $s\cos\theta_y$ | $\theta_1 = \theta_2$ |
# | SphereFace | $\lVert x\rVert\,\psi(\theta_y)$, $\psi \approx \cos(m\theta)$ | $m\,\theta_1 = \theta_2$ |
# | CosFace | $s(\cos\theta_y - m)$ | $\cos\theta_1 - m = \cos\theta_2$ |
# | **ArcFace** | $s\cos(\theta_y + m)$ | $\theta_1 + m = \theta_2$ |
#
# A sample of class 1 must be **$m$ radians closer** to $W_1$ than to $W_2$, whatever the angles; CosFace's gap
# in *cosine* is a wide angle near $0°$ and narrowest where $\cos\theta_1 = m/2$ ($80°$ for $m = 0.35$, just short
# of $90°$). The decision margins in the angular plane
# (ArcFace, Fig. 5; grey: neither class wins with margin):

# %%
fig, axes = plt.subplots(2, 2, figsize=(10, 10), constrained_layout=True)
for ax, (loss, margin) in zip(axes.flat, (("normface", 0.0), ("sphereface", 2), ("cosface", 0.35),
                                          ("arcface", 0.5)), strict=True):
    viz.plot_binary_boundaries(loss=loss, m=margin, ax=ax)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
# CosFace's angular gap theta2 - theta1 along its boundary, against ArcFace's constant m (both m = 0.35)
m_demo = 0.35
for degrees in (1, 30, 60, 80, 90, 120):
    t = math.radians(degrees)
    gap = math.degrees(math.acos(math.cos(t) - m_demo) - t)
    print(f"theta1 = {degrees:3d} deg: CosFace gap {gap:5.1f} deg, ArcFace gap {math.degrees(m_demo):5.1f} deg")

# %% [markdown]
# > **Misconception: a margin of 28.6 is huge.** pytorch-metric-learning's `ArcFaceLoss` takes its margin in
# > **degrees**: 28.6 is the paper's $m = 0.5$ rad. The paper, insightface and this library use radians, so
# > copying a number between them without its unit trains a different loss (exercise 2).
#
# ## 2 · ArcFace is one method
#
# CosFace (04) changed `target_cosine(cos)` to `cos - m`; ArcFace takes the angle back with $\arccos$, adds $m$,
# takes the cosine.

# %%
class MyArcFace(CosFace):
    """ArcFace, the textbook way: target cosine cos(theta_y + m)."""

    def target_cosine(self, cos):
        # theta_y from its cosine [N]; the clamp keeps acos (and its gradient) finite at +-1
        theta = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
        # the margin is added to the angle itself
        return torch.cos(theta + self.m)


# %% [markdown]
# Checked against the library's `ArcFace` (float64) where $\theta_y + m \le \pi$; section 3 is about the others.

# %%
seed_everything(SEED)
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
# ## 3 · When $\theta + m > \pi$: `easy_margin` and the fix
#
# The target logit must *fall* as $\theta$ grows. $\cos(\theta + m)$ **rises** past $\theta + m = \pi$ (dotted
# curve): a sample would be rewarded for moving further from its class. Two answers from insightface:
#
# * the **fix** (the library's default): past $\theta = \pi - m$ use $\cos\theta - m\sin m$, which keeps
#   falling (`th = cos(π − m)`, `mm = m·sin m`, `where(cos > th, cos(θ + m), cos − mm)`);
# * **`easy_margin`**: the margin only where $\theta < 90°$, plain $\cos\theta$ beyond. This curve is **not
#   monotone**: at $90°$ it jumps *up*, from $\cos(90° + m) = -\sin m$ to $\cos 90° = 0$, and past $90°$ the
#   hard samples get no margin at all.

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

# %%
# NBVAL_CHECK_OUTPUT
# easy_margin's jump at 90 degrees, measured on the library's curve: up by sin(m)
theta_jump = torch.tensor([math.pi / 2 - 1e-6, math.pi / 2 + 1e-6], dtype=torch.float64)
before, after = target_logit_curve("arcface", theta_jump, s=1.0, m=0.5, easy_margin=True).tolist()
print(f"easy_margin at 90 deg: {before:.4f} -> {after:.4f} (jump +{after - before:.4f}; sin 0.5 = {math.sin(0.5):.4f})")
assert after > before  # not monotone

# %% [markdown]
# The complete method, the fix included (`easy_margin` as an option), checked on **all** samples:

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
# ### Where NaN comes from
#
# In float32 the cosine of two unit vectors can round *above* 1, where $\arccos$ is NaN; and at $\pm 1$ the
# derivative of $\arccos c$ (or of $\sqrt{1 - c^2}$) is infinite. One infinite gradient turns every weight
# into NaN at the next step.

# %%
# NBVAL_CHECK_OUTPUT
from torch.nn.functional import normalize

from minifacenet.losses import arcface_target

torch.manual_seed(0)
unit_vectors = normalize(torch.randn(1000, 2), dim=1)  # [1000, 2] float32
self_cosines = (unit_vectors * unit_vectors).sum(1)  # [1000], all exactly 1 on paper
print(f"{int((self_cosines > 1).sum())} of 1000 self-cosines round above 1; acos of the largest:",
      torch.acos(self_cosines.max()).item())
# the textbook formula, no clamp: gradient of cos(acos(c) + m) at c = +1 and -1 [2]
cos = torch.tensor([1.0, -1.0], requires_grad=True)
torch.cos(torch.acos(cos) + 0.5).sum().backward()
print("no clamp:      gradient at cos = +1, -1:", cos.grad.tolist())
# the library: sin from a clamped sqrt, the theta + m > pi branch; even a cosine above 1 stays finite [3]
cos = torch.tensor([1.0, -1.0, self_cosines.max().item()], requires_grad=True)
arcface_target(cos, 0.5).sum().backward()
print("library:       gradient at cos = +1, -1, 1 + 2e-7:", [round(v, 4) for v in cos.grad.tolist()])
assert torch.isfinite(cos.grad).all()

# %% [markdown]
# The clamp keeps $\sqrt{\ }$ or $\arccos$ off its infinite slope (`torch.where` differentiates *both*
# branches, so it is needed everywhere); the $\theta + m > \pi$ fix keeps the gradient's *sign* right.
#
# ## 4 · Training ArcFace on the seen digits, 2-D features
#
# Digits 0–6 for training, 7, 8, 9 kept as strangers. Seven classes share the circle, about $51°$ each: $s = 10$,
# $m = 0.2$ rad, warmed up over half of training; and, for comparison, the same seed with $m = 0$.

# %%
from IPython.display import Markdown, display

from minifacenet.geometry import Margin, region_labels
from minifacenet.openset import Scoreboard, format_report, openset_report, split_by_class

train_images, train_labels = mnist(train=True)
test_images, test_labels = mnist(train=False)
train_split = split_by_class(train_images[:TRAIN_SIZE], train_labels[:TRAIN_SIZE])  # 0-6 seen, 7-9 unseen
test_split = split_by_class(test_images[:TEST_SIZE], test_labels[:TEST_SIZE])
seen_test_images, seen_test_labels = test_split.seen_images, test_split.seen_labels
print(f"{len(train_split.seen_images)} training digits (0-6); {len(seen_test_images)} seen and "
      f"{len(test_split.unseen_images)} unseen (7-9) test digits; {EPOCHS} epochs")


def train_2d(head):
    """A 2-D EmbeddingNet trained with ``head`` on the seen digits: (seen, unseen test embeddings, history)."""
    seed_everything(SEED)
    net = EmbeddingNet(embedding_dim=2)
    history = fit(net, head, train_split.seen_images, train_split.seen_labels, epochs=EPOCHS,
                  batch_size=BATCH, margin_warmup=0.5, seed=SEED, progress=False)
    return embed(net, seen_test_images), embed(net, test_split.unseen_images), history


MARGIN = 0.2
models = {}
for m in (0.0, MARGIN):
    seed_everything(SEED)  # the same initial class weights for both heads
    head = ArcFace(2, 7, s=10.0, m=m)
    seen, strangers, history = train_2d(head)
    models[m] = {"head": head, "seen": seen, "strangers": strangers, "history": history,
                 "accuracy": accuracy(predict(head, seen), seen_test_labels),
                 "report": openset_report(strangers, test_split.unseen_labels, metric="cosine")}
    print(f"m = {m}: loss per epoch {[round(v, 3) for v in history['loss']]}, "
          f"seen-digit accuracy {models[m]['accuracy']:.4f}\n   {format_report(models[m]['report'])}")

# %%
# the notebook fails here if training did not work
for m, run in models.items():
    assert run["history"]["loss"][-1] < run["history"]["loss"][0], f"m = {m}: the loss did not decrease"
    assert run["accuracy"] > (0.5 if FAST else 0.9), f"m = {m}: accuracy {run['accuracy']:.3f} is too low"
head, test_embeddings = models[MARGIN]["head"], models[MARGIN]["seen"]

# %% [markdown]
# Seen-digit accuracy is the secondary number; the open-set line (on 7, 8, 9, by cosine) is what a face
# system needs.
#
# ## 5 · Where do strangers land?
#
# Seen test digits in colour on the circle, each class's margin arc, grey gaps, violators ringed; the unseen
# 7, 8, 9 as **black dots** on an inner circle (only their angle matters), for the model trained without and
# with the margin.

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 6.5), constrained_layout=True)
for ax, (m, run) in zip(axes, models.items(), strict=True):
    viz.plot_margin_circle(run["seen"], seen_test_labels, run["head"].weight, loss="arcface", m=m, s=10.0,
                           ax=ax, max_points=2000)
    # the strangers on the circle [M, 2], drawn just inside the seen digits
    on_circle = 0.8 * normalize(run["strangers"][:1000], dim=1)
    ax.plot(*on_circle.T, "o", color="black", ms=2.5, alpha=0.6, ls="none")
    ax.set_title(f"ArcFace trained with m = {m}; inner black dots: unseen 7, 8, 9\n"
                 f"{ax.get_title().split(': ', 1)[-1]}", fontsize=10)
plt.show()
# the share of seen and unseen test digits in the grey gaps of the m = 0.2 model
final_margin = Margin(loss="arcface", m=MARGIN, s=10.0)
in_gap = {name: float((region_labels(models[MARGIN][name], head.weight, final_margin) == -1).mean())
          for name in ("seen", "strangers")}
print(f"m = {MARGIN}: {100 * in_gap['seen']:.0f}% of the seen test digits and {100 * in_gap['strangers']:.0f}% "
      "of the unseen ones lie in a grey gap")
assert in_gap["seen"] < in_gap["strangers"] < 0.5, in_gap


# %%
# the dots above overlap into a band; by angle, the strangers in each arc and each gap can be read off
fig, ax = plt.subplots(figsize=(13, 3.4), constrained_layout=True)
strangers = models[MARGIN]["strangers"].numpy()
viz.plot_strangers_by_angle(strangers, head.weight.detach().numpy(), final_margin, ax=ax,
                        title=f"m = {MARGIN}: the unseen digits by angle, {100 * in_gap['strangers']:.0f}% in a grey gap")
plt.show()

# %% [markdown]
# Training pushed the seen digits out of the gaps, but no term of the loss acts on digits it never saw: a larger
# share of the strangers lies in the gaps. Most of them land inside the arcs of seen digits, where the angle
# alone does not tell them apart from those digits. Whether the margin helps strangers is what the two open-set lines above measure (one seed:
# a single paired run, not a verdict).
#
# The explorer shows the $m = 0.2$ model with its strangers (checkbox); nothing is retrained as you move **m**.

# %%
# NBVAL_IGNORE_OUTPUT
explorer = MarginExplorer(head=head, embeddings=test_embeddings, labels=seen_test_labels,
                          strangers=models[MARGIN]["strangers"])
explorer

# %% [markdown]
# **The scoreboard** gains ArcFace's row ($s = 10$, $m = 0.2$), trained under the lessons' one setting
# (`minifacenet.recipe.LESSON_RUN`) and compared with softmax and NormFace trained alike.

# %%
from minifacenet.lesson import add_lesson_row  # the row: trained under the lessons' one setting
from minifacenet.recipe import LESSON_RUN

lesson_run = LESSON_RUN["fast" if FAST else "full"]  # the same images, epochs, network, recipe
scoreboard = Scoreboard()
add_lesson_row(scoreboard, "arcface", run=lesson_run, seed=SEED, s=10.0, m=MARGIN,
               note=f"notebook 05: s = 10, m = {MARGIN}")
display(Markdown(scoreboard.markdown(upto="arcface")))

# %% [markdown]
# ## What to remember
#
# - ArcFace's target cosine is $\cos(\theta_y + m)$: an additive **angular** margin, only during training.
# - Past $\theta = \pi - m$ continue with $\cos\theta - m\sin m$; `easy_margin` jumps up at $90°$.
# - NaN comes from $|\cos\theta| \ge 1$: clamp before $\arccos$ or $\sqrt{1 - c^2}$.
# - The margin clears gaps between seen classes; strangers land in them and inside the seen arcs alike: judge
#   a margin by the open-set numbers, against NormFace, over several seeds (notebook 06).

# %% [markdown]
# ## Going further
#
# ### The combined margin: $s(\cos(m_1\theta + m_2) - m_3)$
#
# insightface folds the three margins into one target logit: $m_1$ multiplies the angle (SphereFace),
# $m_2$ is added to it (ArcFace), $m_3$ is subtracted from the cosine (CosFace). Settings from the ArcFace
# paper: normalised softmax (1, 0, 0), ArcFace (1, 0.5, 0), CosFace (1, 0, 0.35), CM1 (1, 0.3, 0.2),
# CM2 (0.9, 0.4, 0.15). (The library's `CombinedMargin` accepts only $m_1 \ge 1$, so CM2 is left out.)

# %%
SETTINGS = {"normalised softmax": (1, 0, 0), "ArcFace": (1, 0.5, 0), "CosFace": (1, 0, 0.35), "CM1": (1, 0.3, 0.2)}
theta = torch.linspace(0, math.pi, 361, dtype=torch.float64)
degrees = np.degrees(theta.numpy())


def draw_combined(ax_curve, ax_plane, m1, m2, m3):
    """Target logit of the paper's settings and of (m1, m2, m3); its binary boundary beside."""
    for name, (a, b, c) in SETTINGS.items():
        curve = target_logit_curve("combined", theta, s=1.0, m1=a, m2=b, m3=c)
        ax_curve.plot(degrees, curve, lw=3, alpha=0.6, label=f"{name} {a, b, c}")
    mine = target_logit_curve("combined", theta, s=1.0, m1=m1, m2=m2, m3=m3)
    # dashed and thin on top: a paper setting under it (CM1 at the start) still shows
    ax_curve.plot(degrees, mine, "k--", lw=1.5, label=f"yours ({m1:g}, {m2:g}, {m3:g})")
    ax_curve.set(xlabel="θ (degrees)", ylabel="target logit / s", xlim=(0, 180), ylim=(-2.5, 1.05),
                 title="combined margin: cos(m1·θ + m2) − m3")
    ax_curve.legend(fontsize=8, loc="lower left")
    viz.plot_binary_boundaries(loss="combined", m=m2, m1=m1, m3=m3, ax=ax_plane)


fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True, gridspec_kw={"width_ratios": [3, 2]})
draw_combined(*axes, 1.0, 0.3, 0.2)
plt.show()

# %% [markdown]
# Move the three margins yourself: $m_1$ bends the curve, $m_2$ shifts it to the left, $m_3$ shifts it down;
# the right panel shows where each of two classes wins with margin (grey: neither does).

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
# ### 3-D features and ArcFace's angle statistics (Table 3)
#
# In 3-D the seven seen digits have room. We train ArcFace ($m = 0.3$) and the normalised softmax with the same
# network, data and budget, and measure ArcFace's Table 3 angles (degrees): **W-EC**, between each class
# weight and its class centre; **W-Inter**, between each weight and its nearest other weight; **Intra**,
# between each embedding and its class centre; **Inter**, between each class centre and its nearest other.
# The paper's Table 3 comes from 512-D ResNet50 features of CASIA-WebFace's 10,575 identities; compare the *direction*
# of each change (the last line counts how many move the paper's way; on 7 digits in 3-D the count changes with the
# seed, so it is printed, not pinned).

# %%
def train_3d(head):
    """A 3-D EmbeddingNet trained with ``head`` on the seen digits: (seen test embeddings, history)."""
    seed_everything(SEED)
    net = EmbeddingNet(embedding_dim=3)
    images, labels = train_split.seen_images[:TRAIN_SIZE_3D], train_split.seen_labels[:TRAIN_SIZE_3D]
    hist = fit(net, head, images, labels, epochs=EPOCHS, batch_size=BATCH, margin_warmup=0.5, seed=SEED,
               progress=False)
    return embed(net, seen_test_images), hist


seed_everything(SEED)  # the same initial class weights (and network) for both heads
arc3 = ArcFace(3, 7, s=10.0, m=0.3)
arc3_embeddings, arc3_history = train_3d(arc3)
seed_everything(SEED)
norm3 = NormFace(3, 7, s=10.0)
norm3_embeddings, norm3_history = train_3d(norm3)
arc3_accuracy = accuracy(predict(arc3, arc3_embeddings), seen_test_labels)
norm3_accuracy = accuracy(predict(norm3, norm3_embeddings), seen_test_labels)
print(f"3-D seen-digit accuracy: ArcFace {arc3_accuracy:.4f}, NormFace {norm3_accuracy:.4f}")
assert arc3_history["loss"][-1] < arc3_history["loss"][0]
assert arc3_accuracy > (0.5 if FAST else 0.85) and norm3_accuracy > (0.4 if FAST else 0.6)

# %%
fig = plt.figure(figsize=(11, 5.4), constrained_layout=True)
for k, (emb, hd, loss, m) in enumerate(((norm3_embeddings, norm3, "normface", 0.0),
                                        (arc3_embeddings, arc3, "arcface", 0.3))):
    ax = fig.add_subplot(1, 2, k + 1, projection="3d")
    viz.plot_sphere_static(emb, seen_test_labels, hd.weight, loss=loss, m=m, s=10.0, ax=ax)
    ax.set_title(ax.get_title(), fontsize=9)
plt.show()
# the ArcFace sphere, rotatable (drag it; a static page shows only the two views above)
viz.plot_sphere(arc3_embeddings, seen_test_labels, arc3.weight, loss="arcface", m=arc3.m, s=arc3.s,
                max_points=1500, resolution=30).show()

# %%
stats = {"NormFace": angle_statistics(norm3_embeddings, seen_test_labels, weight=norm3.weight),
         "ArcFace": angle_statistics(arc3_embeddings, seen_test_labels, weight=arc3.weight)}
paper = {"NormFace": {"w_ec": 44.26, "w_inter": 69.66, "intra": 50.50, "inter": 59.23},
         "ArcFace": {"w_ec": 14.29, "w_inter": 71.61, "intra": 38.45, "inter": 65.83}}
print(f"{'':10s}" + "".join(f"{key:>20s}" for key in ("W-EC", "W-Inter", "Intra", "Inter")))
for name in stats:
    row = "".join(f"{stats[name][key]:10.2f} ({paper[name][key]:6.2f})"
                  for key in ("w_ec", "w_inter", "intra", "inter"))
    print(f"{name:10s}{row}")
print("ours (paper's Table 3 in brackets), degrees")
# the paper's way, from NormFace to ArcFace: W-EC and Intra down, W-Inter and Inter up; one seed, so printed, not
# pinned (W-Inter in particular turns with the seed: both heads start from the same evenly spread weights)
names = {"w_ec": "W-EC", "intra": "Intra", "w_inter": "W-Inter", "inter": "Inter"}
paper_way = [names[key] for key, sign in (("w_ec", -1), ("intra", -1), ("w_inter", +1), ("inter", +1))
             if sign * (stats["ArcFace"][key] - stats["NormFace"][key]) > 0]
print(f"moved the paper's way on this seed: {len(paper_way)} of 4 ({', '.join(paper_way) or 'none'})")

# %% [markdown]
# ### At full scale
#
# The notebook trains on a subset for a few epochs. The scoreboard's *reference* rows are the command-line
# tool's runs on all training digits of 0–6 under the course recipe (6 epochs, the same for every loss),
# open-set numbers on 7, 8, 9, means over 3 seeds, in 2-D, 3-D and 32-D (`docs/results.md`). Paired over
# those seeds, no margin head is ahead of softmax on every seed. Against NormFace (the same head with
# $m = 0$), CosFace's margin gains 2–4 TAR points on every seed in 3-D and 32-D and ArcFace's in 32-D, while
# NormFace itself is behind softmax there. Notebook 06 asks when a margin pays.
#
# ### Exercises
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
# $\arccos(-m) - \pi/2 = \arcsin m$, so $m = \sin 0.499 = 0.479$ gives the same gap there. Not everywhere
# else: CosFace's gap is narrowest at $\cos\theta_1 = m/2$ ($76°$, $27.7°$), so $m = 0.479$ is *narrower* than
# ArcFace's $28.6°$ for $\theta_1$ from about $62°$ to $89°$, and wider below and beyond.
#
# ```python
# m = math.sin(math.radians(28.6))
# print(math.radians(28.6), m)   # 0.4992  0.4787
# for degrees in (30, 62, 76, 89, 90, 120):
#     t = math.radians(degrees)
#     print(degrees, round(math.degrees(math.acos(math.cos(t) - m) - t), 1))   # 37.2 28.5 27.7 28.5 28.6 48.2
# ```
# </details>
#
# **3.** With 2-D features and $C$ classes whose weights are evenly spaced, what is the largest ArcFace margin
# for which every class still has a margin arc? Compare with CosFace's bound $m \le 1 - \cos(2\pi/C)$, and
# check your answer in the explorer (7 classes: where do the coloured arcs vanish?).
#
# <details><summary>Solution</summary>
#
# Neighbouring weights are $2\pi/C$ apart. A direction at angle $\phi$ from $W_y$ (towards a neighbour) wins
# with margin if $\phi + m < 2\pi/C - \phi$, i.e. $\phi < (2\pi/C - m)/2$: the arc exists while $m < 2\pi/C$
# ($0.898$ rad $\approx 51°$ for $C = 7$), and its width is $2\pi/C - m$. CosFace's bound is on a cosine:
# $1 - \cos 51.4° = 0.377$.
#
# ```python
# from minifacenet.geometry import Margin, arc_lengths, margin_arcs
# from minifacenet.geometry import circle_points
# W = circle_points(2 * np.pi * np.arange(7) / 7)   # 7 evenly spread unit vectors [7, 2]
# for m in (0.3, 0.85, 0.89, 0.9):
#     print(m, arc_lengths(margin_arcs(W, Margin(loss="arcface", m=m))).round(3))
# ```
# </details>
