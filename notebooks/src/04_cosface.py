# %% [markdown]
# # 04 · CosFace: a margin on the cosine
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/04_cosface.ipynb)
#
# **What you will learn**
# - CosFace's loss: subtract $m$ from the target cosine, $s(\cos\theta_y - m)$.
# - Why $s$ cannot be small and $m$ cannot be large.
# - What the margin does to the seen digits 0–6, and what it does for the digits 7, 8, 9 the network never
#   saw: CosFace's row of the open-set scoreboard.
#
# Previous: [03 · SphereFace](03_sphereface.ipynb) · Next: [05 · ArcFace](05_arcface.ipynb)

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
FAST = False  # True: a shortened run, about 0.5 min on a 2-core CPU; False: the full lesson, about 2.5 min
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from minifacenet import viz
from minifacenet.data import mnist
from minifacenet.explorer import MarginExplorer
from minifacenet.geometry import cosface_margin_upper_bound, scale_lower_bound
from minifacenet.losses import CosFace, NormFace
from minifacenet.metrics import accuracy, angle_statistics
from minifacenet.models import EmbeddingNet
from minifacenet.train import embed, fit, predict, seed_everything

# MINIFACENET_FAST=1 or 0 (CI, the build script) overrides the FAST line at the top of this cell.
FAST = {"1": True, "0": False}.get(os.environ.get("MINIFACENET_FAST"), FAST)
SEED = int(os.environ.get("MINIFACENET_SEED", "0"))  # the course's asserts hold for other seeds too
seed_everything(SEED)
TOY_SIZE = 4000 if FAST else 16000  # training digits 0-6 for each 2-D toy model (6 of them: 3 margins x 2 seeds)
TRAIN_SIZE_3D = 3000 if FAST else 8000  # training digits 0-6 for the 3-D model
TEST_SIZE = 2000 if FAST else 10000  # test digits 0-9 (0-6 seen, 7-9 strangers)
EPOCHS = 3 if FAST else 4
BATCH = 64 if FAST else 128  # the course recipe (minifacenet.recipe) for every head here, but smaller
# batches than its 256: more steps from few images
print(f"fast mode: {FAST}")


# %% [markdown]
# ## 1 · The idea: a gap between cosines
#
# Start from the normalised softmax (NormFace, notebook 00): features $x$ and class weights $W_j$ are
# L2-normalised, so each logit is $s\cos\theta_j$ with a fixed scale $s$. A sample on the boundary
# $\cos\theta_1 = \cos\theta_2$ already counts as learned. CosFace (the *large margin cosine loss*, LMCL)
# subtracts a margin $m$ from the target cosine, during training only:
#
# $$L_\text{LMCL} = -\log\frac{e^{s(\cos\theta_y - m)}}{e^{s(\cos\theta_y - m)} + \sum_{j\ne y} e^{s\cos\theta_j}}$$
#
# For two classes, class 1 now wins only where $\cos\theta_1 - m > \cos\theta_2$, class 2 only where
# $\cos\theta_2 - m > \cos\theta_1$; between the two boundaries lies a margin that belongs to nobody.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), constrained_layout=True)
for ax, m in zip(axes, (0.0, 0.1, 0.2), strict=True):
    viz.plot_binary_boundaries(loss="cosface", m=m, ax=ax)
plt.show()

# %% [markdown]
# > **Misconception: CosFace is the angular margin.** CosFace is the additive **cosine** margin, $\cos\theta_y - m$; ArcFace (notebook 05)
# > the additive **angular** margin, $\cos(\theta_y + m)$. Many blog posts swap the names.
#
# ## 2 · CosFace is one method
#
# The normalised softmax head has a hook `target_cosine(cos)` that returns the target cosine unchanged.
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
seed_everything(SEED)
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
# **A lower bound on $s$.** All logits lie in $[-s, s]$: with a small $s$ even a perfect feature cannot reach a
# high probability. If the other $C - 1$ weights all sat at cosine $-1/(C-1)$ (a simplex, possible when
# $C \le D + 1$), a target probability $P_W$ would need (CosFace, eq. 6)
#
# $$s \ \ge\ \frac{C-1}{C}\,\ln\frac{(C-1)\,P_W}{1-P_W}.$$
#
# This is **necessary, not sufficient**: any other arrangement puts some weights closer.
#
# **An upper bound on $m$ (2-D).** On a circle, neighbours are at best $2\pi/C$ apart; a feature exactly on its
# weight satisfies the margin only if $m \le 1 - \cos(2\pi/C)$.

# %%
# NBVAL_CHECK_OUTPUT
print(" C   s >= (P=0.9)   s >= (P=0.99)   2-D CosFace m <=")
for num_classes in (2, 7, 8, 10, 100, 10575):
    print(f"{num_classes:5d} {scale_lower_bound(num_classes, 0.9):10.2f} {scale_lower_bound(num_classes, 0.99):14.2f}"
          f" {cosface_margin_upper_bound(num_classes):16.3f}")

# %% [markdown]
# In 2-D the simplex is impossible for $C > 3$. What a perfect feature reaches at the bound's $s$ with $C$
# weights evenly spread on the circle:

# %%
# NBVAL_CHECK_OUTPUT
from minifacenet.geometry import circle_points

for num_classes in (7, 8, 10):
    s_bound = scale_lower_bound(num_classes, 0.9)
    weight = circle_points(2 * np.pi * np.arange(num_classes) / num_classes)  # [C, 2], evenly spread
    # cosines from W_0 (where the feature sits) to the other weights [C - 1]
    others = weight[1:] @ weight[0]
    reached = 1.0 / (1.0 + np.exp(s_bound * (others - 1.0)).sum())
    print(f"C = {num_classes:2d}: s = {s_bound:.2f} promises P = 0.9 (simplex); on the circle P = {reached:.2f}")
    assert reached < 0.9  # the bound is necessary, not sufficient

# %%
classes = np.arange(2, 101)
fig, (ax_s, ax_m) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
for target in (0.9, 0.99, 0.999):
    ax_s.plot(classes, [scale_lower_bound(c, target) for c in classes], label=f"P_W = {target}")
ax_s.set(xlabel="number of classes C", ylabel="s needed at least (simplex bound)",
         title="lower bound on s: necessary, not sufficient")
ax_s.legend()
ax_m.plot(classes[:30], [cosface_margin_upper_bound(c) for c in classes[:30]], "o-", ms=3)
for c in (7, 10):
    ax_m.annotate(f"C = {c}: m ≤ {cosface_margin_upper_bound(c):.3f}", (c, cosface_margin_upper_bound(c)),
                  xytext=(15, 15), textcoords="offset points", arrowprops={"arrowstyle": "->"})
ax_m.set(xlabel="number of classes C", ylabel="largest m", title="2-D features: upper bound on CosFace's m")
plt.show()

# %% [markdown]
# $p(\text{class } 0)$ around the circle, 7 classes: at $s = 30$ with and without margin, and at the bound's
# $s$ **with the margin** (dotted): it peaks near 0.5, below the $P = 0.63$ printed above for the same $s$
# without a margin, and far below 0.9.

# %%
fig = viz.plot_probability_vs_s(loss="cosface", m=0.15, s=30.0, num_classes=7)
ax_p = fig.axes[0]
at_bound = next(line for line in ax_p.get_lines() if line.get_label() == "s at its lower bound")
at_bound.set_label("s at its lower bound, with the margin")
ax_p.legend()
print(f"peak of the dotted curve (the bound's s, m = 0.15): {at_bound.get_ydata().max():.2f}")
assert at_bound.get_ydata().max() < 0.63  # the margin lowers it below the no-margin P printed above
plt.show()

# %% [markdown]
# ## 4 · The toy experiment: 7 digits, 2-D features, $m = 0, 0.15, 0.3$
#
# The CosFace paper (Fig. 4) trains 2-D features of 8 identities: the larger $m$, the tighter each class. We
# train on the **seen** digits 0–6 with $m = 0$, $0.15$, $0.3$ (bound: 0.377), warmed up over half of
# training, at $s = 30$: with a large $s$ the loss without margin is satisfied once a sample is classified,
# while the margin keeps pulling. Two seeds (one in fast mode), because one 2-D run is noisy.

# %%
from IPython.display import Markdown, display
from torch.nn.functional import normalize

from minifacenet.openset import Scoreboard, format_report, openset_report, paired_differences, split_by_class

train_images, train_labels = mnist(train=True)
test_images, test_labels = mnist(train=False)
train_split = split_by_class(train_images, train_labels)  # seen digits 0-6 (labels 0-6) and unseen 7-9
test_split = split_by_class(test_images[:TEST_SIZE], test_labels[:TEST_SIZE])
seen_images, seen_labels = train_split.seen_images[:TOY_SIZE], train_split.seen_labels[:TOY_SIZE]
seen_test_images, seen_test_labels = test_split.seen_images, test_split.seen_labels
SCALE, MARGINS = 30.0, (0.0, 0.15, 0.3)
SEEDS = (SEED,) if FAST else (SEED, SEED + 1)
print(f"{len(seen_images)} training digits of {len(train_split.seen_classes)} classes, {len(seen_test_images)} "
      f"seen and {len(test_split.unseen_images)} unseen test digits; {EPOCHS} epochs, seeds {SEEDS}")


def train(head, images, labels, *, embedding_dim, seed=SEED):
    """A fresh EmbeddingNet trained with ``head`` (margin warmed up over half of training)."""
    seed_everything(seed)
    net = EmbeddingNet(embedding_dim=embedding_dim)
    history = fit(net, head, images, labels, epochs=EPOCHS, batch_size=BATCH,
                  margin_warmup=0.5, seed=seed, progress=False)
    return net, history


# %%
toy = {}
for m in MARGINS:
    for seed in SEEDS:
        seed_everything(seed)
        head = CosFace(2, 7, s=SCALE, m=m)
        net, history = train(head, seen_images, seen_labels, embedding_dim=2, seed=seed)
        emb = embed(net, seen_test_images)  # [N_seen, 2]
        toy[m, seed] = {"head": head, "embeddings": emb, "history": history,
                        "strangers": embed(net, test_split.unseen_images),  # [N_unseen, 2]
                        "accuracy": accuracy(predict(head, emb), seen_test_labels),
                        "intra": angle_statistics(emb, seen_test_labels)["intra"]}

print(" m     seen-digit accuracy   intra-class angle (deg), per seed   mean")
for m in MARGINS:
    runs = [toy[m, seed] for seed in SEEDS]
    intra = [run["intra"] for run in runs]
    print(f"{m:4.2f}   {np.mean([run['accuracy'] for run in runs]):17.4f}   "
          f"{'  '.join(f'{v:5.1f}' for v in intra):>32s}   {np.mean(intra):5.1f}")

# %%
# the notebook fails here if a toy model did not train, or if the largest margin did not tighten the classes.
# A 2-D run can stall with one class squeezed between two others (about 0.77 seen-digit accuracy): that
# happens on some machines and thread counts, not on others, so it is reported, not asserted.
for (m, seed), run in toy.items():
    assert run["history"]["loss"][-1] < run["history"]["loss"][0], f"m = {m}, seed {seed}: the loss did not decrease"
    assert run["accuracy"] > 0.5, f"m = {m}, seed {seed}: accuracy {run['accuracy']:.3f}"
    if not FAST and run["accuracy"] < 0.85:
        print(f"m = {m}, seed {seed}: a stalled 2-D run ({run['accuracy']:.3f} seen-digit accuracy); "
              "its numbers below are that run's")
intra_by_margin = {m: np.mean([toy[m, seed]["intra"] for seed in SEEDS]) for m in MARGINS}
assert intra_by_margin[max(MARGINS)] < intra_by_margin[0.0], intra_by_margin
assert max(MARGINS) <= cosface_margin_upper_bound(7)

# %% [markdown]
# Seed 0 on the circle: coloured arcs where each class wins with its margin, grey gaps, ringed digits that
# violate the margin (at $m = 0$ there is none: ringed means misclassified). Right: angles to the class centre.

# %%
fig, axes = plt.subplots(1, 4, figsize=(18, 4.9), constrained_layout=True)
for ax, m in zip(axes, MARGINS, strict=False):
    run = toy[m, SEEDS[0]]
    viz.plot_margin_circle(run["embeddings"], seen_test_labels, run["head"].weight, loss="cosface", m=m,
                           s=SCALE, ax=ax, max_points=2000)
    wrong = int((predict(run["head"], run["embeddings"]) != seen_test_labels).sum())
    detail = f"{wrong} misclassified (no margin)" if m == 0 else ax.get_title().split(": ", 1)[-1]
    ax.set_title(f"m = {m}: intra-class {run['intra']:.1f}°\n{detail}", fontsize=9)
    # angle of each digit to its class centre, as a cumulative share
    centres = torch.stack([normalize(run["embeddings"][seen_test_labels == c], dim=1).mean(0) for c in range(7)])
    cos = (normalize(run["embeddings"], dim=1) * normalize(centres[seen_test_labels], dim=1)).sum(1)
    degrees = np.sort(np.degrees(np.arccos(cos.clamp(-1, 1).numpy())))
    axes[3].plot(degrees, np.linspace(0, 1, len(degrees)), label=f"m = {m}")
axes[3].set(xlim=(0, 30), xlabel="angle to the class centre (degrees)", ylabel="share of seen test digits",
            title="tighter classes: the curve rises sooner")
axes[3].legend(loc="lower right")
plt.show()

# %% [markdown]
# ## 5 · Strangers: the digits 7, 8, 9
#
# Face recognition meets people the network never saw; here, the digits 7, 8, 9. Each toy model embeds them,
# scored by cosine (what CosFace trains for): verification over all pairs (AUC, TAR at 1 % false accepts),
# 1-NN against a gallery of 5 images per digit, clustering (NMI). Whether the margin helps strangers is the
# difference to $m = 0$ **on the same seed**.

# %%
reports = {key: openset_report(run["strangers"], test_split.unseen_labels, metric="cosine")
           for key, run in toy.items()}
for m in MARGINS:
    print(f"m = {m:4.2f}, seed {SEEDS[0]}: {format_report(reports[m, SEEDS[0]])}")
tar = {f"m = {m}": {seed: reports[m, seed]["tar@far=0.01"] for seed in SEEDS} for m in MARGINS}
for name, gap in paired_differences(tar, baseline="m = 0.0").items():
    if name == "m = 0.0":
        continue
    print(f"TAR@FAR=1 %, {name} minus m = 0 on the same seed: mean {gap['mean']:+.3f} "
          f"(from {gap['min']:+.3f} to {gap['max']:+.3f}), higher on {gap['wins']} of {gap['pairs']} seeds")
# what the next cell says: in 2-D the strangers stay hard to verify, margin or not
assert all(report["tar@far=0.01"] < 0.2 for report in reports.values()), reports

# %% [markdown]
# The margin made the seen classes much tighter, yet the strangers gained little: TAR at 1 % false accepts stays
# a few percent. A tighter seen class is not, by itself, a better place for a stranger: in 2-D the seen digits
# fill the circle, and 7, 8, 9 must land inside their sectors (notebook 05 draws it).
#
# ## 6 · CosFace in 3-D, and the scoreboard
#
# With a third dimension there is room to spare: CosFace ($s = 10$, $m = 0.2$) on the seen digits, 3-D.

# %%
seed_everything(SEED)
head3 = CosFace(3, 7, s=10.0, m=0.2)
net3, history3 = train(head3, train_split.seen_images[:TRAIN_SIZE_3D], train_split.seen_labels[:TRAIN_SIZE_3D],
                       embedding_dim=3)
embeddings3 = embed(net3, seen_test_images)  # [N_seen, 3]
accuracy3 = accuracy(predict(head3, embeddings3), seen_test_labels)
report3 = openset_report(embed(net3, test_split.unseen_images), test_split.unseen_labels, metric="cosine")
print(f"3-D CosFace: seen-digit accuracy {accuracy3:.4f}\n{format_report(report3)}")
assert history3["loss"][-1] < history3["loss"][0] and accuracy3 > (0.5 if FAST else 0.85)

# %%
fig = plt.figure(figsize=(11, 5.4), constrained_layout=True)
for k, (elev, azim) in enumerate(((20, 30), (-30, 210))):
    ax = fig.add_subplot(1, 2, k + 1, projection="3d")
    viz.plot_sphere_static(embeddings3, seen_test_labels, head3.weight, loss="cosface", m=0.2, s=10.0,
                           elev=elev, azim=azim, ax=ax)
    summary = ax.get_title()
    ax.set_title(f"view {k + 1}", fontsize=10)
fig.suptitle(f"CosFace m = 0.2, 3-D, seen digits 0-6: {summary.split(': ', 1)[-1]}", fontsize=11)
plt.show()
# the same sphere, rotatable (drag it; a static page shows only the two views above)
viz.plot_sphere(embeddings3, seen_test_labels, head3.weight, loss="cosface", m=head3.m, s=head3.s,
                max_points=1500, resolution=30).show()

# %% [markdown]
# **The scoreboard**: one open-set row per loss, on the unseen digits. *Live* rows are trained here under the
# lessons' one setting (`minifacenet.recipe.LESSON_RUN`) and compared only with controls trained alike (softmax,
# NormFace); *reference* rows are the command-line runs, mean [min, max] over at least 3 seeds.

# %%
from minifacenet.lesson import add_lesson_row  # the row: trained under the lessons' one setting
from minifacenet.recipe import LESSON_RUN

lesson_run = LESSON_RUN["fast" if FAST else "full"]  # the same images, epochs, network, recipe
scoreboard = Scoreboard()
add_lesson_row(scoreboard, "cosface", run=lesson_run, seed=SEED, s=SCALE, m=max(MARGINS),
               note=f"notebook 04: s = {SCALE}, m = {max(MARGINS)}")
display(Markdown(scoreboard.markdown(upto="cosface")))

# %% [markdown]
# ## 7 · Interactive: the margin explorer
#
# The $m = 0.15$ toy model. Move **m** up and the arcs shrink, then vanish (near $0.377$, the bound for evenly
# spread weights; the trained ones are not quite even); move **s** and the probability curve sharpens; switch the **loss** to read the same features through another margin; the checkbox shows
# the strangers 7, 8, 9 in black.

# %%
# NBVAL_IGNORE_OUTPUT
MarginExplorer(head=toy[0.15, SEEDS[0]]["head"], embeddings=toy[0.15, SEEDS[0]]["embeddings"],
               labels=seen_test_labels, strangers=toy[0.15, SEEDS[0]]["strangers"])

# %% [markdown]
# ## What to remember
#
# - CosFace = normalised softmax with the target cosine $\cos\theta_y - m$: an additive **cosine** margin.
# - The lower bound on $s$ is necessary, not sufficient; in 2-D, $m \le 1 - \cos(2\pi/C)$: keep $m$ small and
#   warm it up.
# - The margin opens gaps and tightens the seen classes; what it does for strangers is a separate
#   measurement.

# %% [markdown]
# ## Going further
#
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
# **1.** The paper trains on CASIA-WebFace, 10,575 identities, with $s = 64$. What does the lower bound ask
# for with $P_W = 0.9$? Why might one still pick a much larger $s$?
#
# <details><summary>Solution</summary>
#
# ```python
# print(scale_lower_bound(10575, 0.9))   # 11.46
# ```
# About $s \ge 11.5$, and only if the weights formed a simplex, which 10,575 classes in 512-D cannot (a
# simplex needs $C \le D + 1$). Real features are not on their weights either, and with the margin the target
# logit is $s(\cos\theta_y - m)$: a larger $s$ leaves room for all three.
# </details>
#
# **2.** Check the 2-D bound with the library's geometry: for 7 evenly spread weights, at which $m$ do the
# margin arcs of CosFace vanish?
#
# <details><summary>Solution</summary>
#
# ```python
# from minifacenet.geometry import Margin, arc_lengths, margin_arcs
# from minifacenet.geometry import circle_points
# W = circle_points(2 * np.pi * np.arange(7) / 7)   # 7 evenly spread unit vectors [7, 2]
# for m in (0.3, 0.37, 0.376, 0.378):
#     print(m, arc_lengths(margin_arcs(W, Margin(loss="cosface", m=m))).round(4))
# print(cosface_margin_upper_bound(7))   # 0.3765: arcs exist below it, none above
# ```
# </details>
#
# **3.** CosFace's margin is constant in cosine. What gap in *angle* does $m = 0.2$ ask for between two
# classes when $\theta_1 = 10°$, $45°$, $84°$ and $90°$? Where is it narrowest?
#
# <details><summary>Solution</summary>
#
# On the boundary $\cos\theta_2 = \cos\theta_1 - m$, so the gap is $\arccos(\cos\theta_1 - m) - \theta_1$:
#
# ```python
# import math
# for degrees in (10, 45, 84, 90):
#     t = math.radians(degrees)
#     print(degrees, round(math.degrees(math.acos(math.cos(t) - 0.2) - t), 2))   # 28.3, 14.53, 11.48, 11.54
# ```
# The gap is wide near $0°$ and narrowest just short of $90°$: its derivative $\sin\theta_1/\sin\theta_2 - 1$
# vanishes where $\theta_2 = 180° - \theta_1$, that is at $\cos\theta_1 = m/2$ ($84.3°$ for $m = 0.2$). A margin
# in cosine is not a margin in angle; notebook 05 (ArcFace) adds the margin to the angle instead.
# </details>
