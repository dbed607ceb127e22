# %% [markdown]
# # 06 · What helps strangers: normalising, margins and the number of classes
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/06_what_helps_strangers.ipynb)
#
# **What you will learn**
# - How to ask "does the margin help?" fairly: one recipe for every head, NormFace as the $m = 0$ control, paired seeds.
# - Digit pairs: a data set where the number of training classes grows while the digits they are made of stay the same.
# - What the course's runs say about strangers: what normalising does, what a margin adds, and how that changes with the number of classes; negative margins.
# - Why face recognition trains its margins on tens of thousands of identities.
#
# Previous: [05 · ArcFace](05_arcface.ipynb) · Next: [07 · Faces](07_faces.ipynb)

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
import json
import os
from importlib import resources

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from minifacenet import pairs, strangers, viz
from minifacenet.recipe import COURSE_RECIPE
from minifacenet.train import seed_everything

# Fast mode (CI sets MINIFACENET_FAST=1) shrinks data and epochs; full mode is what you run.
FAST = os.environ.get("MINIFACENET_FAST") == "1"
SEED = 0
seed_everything(SEED)
TRAIN_IMAGES = 1400 if FAST else 3500  # pair images of the live runs, shared among the classes
EPOCHS = 2 if FAST else COURSE_RECIPE.epochs
print(f"fast mode: {FAST}")

# %% [markdown]
# ## 1 · A fair question
#
# Notebooks 03–05 showed each margin making the training classes tighter. The question this course is about is
# different: **does the margin make an embedding better at people it never saw?** To answer it, change one
# thing at a time and keep everything else equal:
#
# - **one recipe** for every head (the optimiser, learning rate, schedule, epochs and batch below). A head
#   trained with a better learning rate than its rival wins for the wrong reason;
# - **a control for each step.** Softmax → NormFace puts features and weights on the sphere with a scale $s$
#   (normalising). NormFace → CosFace or ArcFace adds the margin $m$ and nothing else. NormFace *is* CosFace
#   at $m = 0$;
# - **paired seeds.** With the same seed, two heads start from the same network and see the same batches,
#   so the difference between them on that seed is the head's doing. Report the mean and the range over
#   seeds, and never pick the seed that tells the story you want.

# %%
print("the course recipe, the same for every head:", COURSE_RECIPE)

# %% [markdown]
# ## 2 · Digit pairs: more classes, the same parts
#
# MNIST has only ten digits, too few classes to ask what *many* classes do. A **digit pair** "ab" is a digit
# $a$ beside a digit $b$: a 28 × 56 image, one class per ordered pair. Which pairs a network trains on is a
# Latin square on the digits 0–6: the seven pairs $(a, (a + k) \bmod 7)$ of one shift $k$ use every digit
# once on the left and once on the right. Training on 1, 3 or 5 shifts gives **7, 21 or 35 classes made of the
# same digits**, so what grows is the number of classes, not the parts the network has seen.
#
# Two kinds of strangers are scored after every run, both built only from MNIST *test* images:
# **familiar strangers** (the 14 pairs of 0–6 no run trains on: new classes of familiar parts) and
# **new-part strangers** (14 pairs with a digit from 7–9: a part no training image shows).

# %%
roles = np.full((10, 10), np.nan)
for count, value in ((35, 3), (21, 2), (7, 1)):  # later counts overwrite: the first shift a pair joins
    for a, b in pairs.training_pairs(count):
        roles[a, b] = value
for a, b in pairs.familiar_stranger_pairs():
    roles[a, b] = 4
for a, b in pairs.new_part_stranger_pairs():
    roles[a, b] = 5
names = ["trained from 7 classes", "joins at 21", "joins at 35", "familiar stranger", "new-part stranger"]
colors = ["#1f77b4", "#6baed6", "#c6dbef", "#ff7f0e", "#d62728"]
example = pairs.digit_pairs(7, train_images=70, test_per_class=1)

fig, (grid_ax, *image_axes) = plt.subplots(1, 4, figsize=(13, 3.6), width_ratios=[1.4, 1, 1, 1])
cmap = plt.matplotlib.colors.ListedColormap(colors)
grid_ax.imshow(roles, cmap=cmap, vmin=0.5, vmax=5.5)
grid_ax.set(xticks=range(10), yticks=range(10), xlabel="right digit b", ylabel="left digit a",
            title="what each pair class is")
grid_ax.legend(handles=[plt.matplotlib.patches.Patch(color=c, label=n) for c, n in zip(colors, names, strict=True)],
               bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=7)
for ax, part, title in zip(image_axes, (example.train, example.familiar, example.new_parts),
                           ("a training class", "a familiar stranger", "a new-part stranger"), strict=True):
    ax.imshow(part.images[0, 0], cmap="gray_r")
    ax.set(title=f"{title}", xticks=[], yticks=[])
fig.tight_layout()
plt.show()
for count in (7, 21, 35):
    used = {digit for pair in pairs.training_pairs(count) for digit in pair}
    print(f"{count} training classes use the digits {sorted(used)}")

# %% [markdown]
# ## 3 · Your run: three heads, 7 and 35 classes, one seed
#
# Softmax, NormFace ($s = 16$) and CosFace ($s = 16$, $m = 0.3$), each trained on the same pair images with the
# same seed, first with 7 training classes, then with 35. One seed is a demonstration, not a verdict: the
# numbers below move with the seed by several points.

# %%
live = []
for classes in (7, 35):
    data = pairs.digit_pairs(classes, train_images=TRAIN_IMAGES)
    for name, arguments in (("softmax", {}), ("normface", {"s": 16.0}), ("cosface", {"s": 16.0, "m": 0.3})):
        run = strangers.run_experiment(name, data, seed=SEED, epochs=EPOCHS, **arguments)
        run["m"] = arguments.get("m")
        live.append(run)
        familiar = run["strangers"]["familiar"]
        print(f"{classes:2d} classes, {strangers.label(run):14s} closed-set {100 * run['closed_set']:5.1f} %   "
              f"familiar strangers TAR@FAR=1 % {100 * familiar['tar@far=0.01']:5.1f}   "
              f"new-part strangers TAR@FAR=1 % {100 * run['strangers']['new_parts']['tar@far=0.01']:5.1f}")

# %% [markdown]
# ## 4 · What three seeds say
#
# The course's reference runs (`python scripts/strangers.py`, 3 seeds, 12,600 training pairs, 32-D, the
# course recipe) add ArcFace ($m = 0.3$) and a middle class count. Each cell is a **paired gap** in points
# (head minus control on the same seed), its mean and [smallest, largest] over the seeds, and on how many
# seeds it is positive.

# %%
reference = json.loads(resources.files("minifacenet").joinpath("strangers_reference.json").read_text())
display(Markdown(strangers.curve_table(reference)))
viz.plot_class_count(reference)
plt.show()

# %% [markdown]
# LESSON_PLACEHOLDER_CURVE

# %% [markdown]
# ## 5 · Through m = 0: negative margins
#
# A margin handicaps the target class during training; a **negative** margin favours it, so training stops
# pushing a sample once it is roughly right. The sweep runs CosFace from $m = -0.3$ to $+0.5$ at 7 and at 35
# classes ($m = 0$ is NormFace), 3 seeds each.

# %%
viz.plot_margin_sweep(reference)
plt.show()
display(Markdown(strangers.sweep_table(reference)))

# %% [markdown]
# LESSON_PLACEHOLDER_SWEEP
#
# ## 6 · Why face recognition uses margins
#
# LESSON_PLACEHOLDER_WHY

# %% [markdown]
# ## Going further
#
# 1. Run section 3 with `SEED = 1` and `SEED = 2`. Which of your gaps keep their sign?
# 2. Add ArcFace with $m = -0.1$ to section 3. Where does it land between NormFace and CosFace?
# 3. Which kind of stranger gains more from normalising, and why might a part never seen in training matter?
#
# Literature: Liu et al., *Negative Margin Matters: Understanding Margin in Few-shot Classification*
# (ECCV 2020) — a negative margin transfers better to novel classes; Kornblith et al., *Why Do Better Loss
# Functions Lead to Less Transferable Features?* (NeurIPS 2021) — sharper class separation transfers worse;
# Musgrave et al., *A Metric Learning Reality Check* (ECCV 2020) — under equal tuning, most reported gains shrink.
