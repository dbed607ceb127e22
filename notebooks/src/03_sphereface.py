# %% [markdown]
# # 03 · SphereFace: a multiplicative angular margin
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/03_sphereface.ipynb)
#
# **What you will learn**
# - How a classification head becomes an *angular* one: normalise the class weights, and the decision depends
#   only on the angle $\theta_j$ between a feature and each class weight.
# - SphereFace's (A-Softmax's) margin: class $y$ must win with $m\,\theta_y$ instead of $\theta_y$; the
#   function $\psi(\theta)$ that makes this work for every angle, for $m = 1, \dots, 4$, and why $m$ must be
#   an integer.
# - Why SphereFace needs the $\lambda$ annealing to train at all.
# - What the margin does to features: SphereFace's Fig. 5, 3-D features of 6 classes for $m = 1..4$, with the
#   angles of positive and negative pairs.
#
# Previous: [02 · Triplet loss](02_triplet.ipynb) · Next: [04 · CosFace](04_cosface.ipynb)

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

from minifacenet import viz
from minifacenet.data import mnist
from minifacenet.losses import NormFace, SphereFace, sphereface_psi
from minifacenet.metrics import accuracy, angle_statistics
from minifacenet.models import EmbeddingNet
from minifacenet.train import embed, fit, predict, seed_everything
from minifacenet.widgets import MarginExplorer

# Fast mode (CI sets MINIFACENET_FAST=1) shrinks data and epochs; full mode is what you run.
FAST = os.environ.get("MINIFACENET_FAST") == "1"
seed_everything(0)
SIX_SIZE = 1500 if FAST else 5000  # training digits 0-5 for each 3-D model (m = 1..4, and one without annealing)
TRAIN_SIZE = 3000 if FAST else 20000  # training digits 0-9 for the 2-D model
TEST_SIZE = 2000 if FAST else 10000  # test digits
EPOCHS = 2 if FAST else 4
BATCH = 64 if FAST else 128  # small batches: more steps from few images
print(f"fast mode: {FAST}")

# %% [markdown]
# ## 1 · From metric losses to an angular classifier
#
# Notebooks 01 and 02 compared samples with each other (pairs, triplets). From here on we train a
# **classifier** over the training identities and keep only its features: each class $j$ has a weight
# vector $W_j$ (a "proxy" of the class), and the logit of class $j$ is
#
# $$W_j^\top x + b_j = \lVert W_j\rVert\,\lVert x\rVert\cos\theta_j + b_j .$$
#
# SphereFace drops the bias and normalises the weights, $\lVert W_j\rVert = 1$: the logits become
# $\lVert x\rVert\cos\theta_j$, and the prediction, $\arg\max_j \cos\theta_j$, depends **only on the angle**.
# Faces (and digits) are then compared by angle, as open-set recognition does at test time.
#
# This "modified softmax" separates classes, but only just: a class-1 sample is correct as soon as
# $\theta_1 < \theta_2$. **A-Softmax** asks for more during training: $m\,\theta_1 < \theta_2$, i.e. the target
# logit uses $\cos(m\theta_y)$ instead of $\cos\theta_y$, with an integer $m \ge 2$ (the paper: $m = 4$).

# %% [markdown]
# ## 2 · $\psi(\theta)$: making $\cos(m\theta)$ decrease on all of $[0, \pi]$
#
# $\cos(m\theta)$ decreases only on $[0, \pi/m]$ and then turns back up (dashed below): a sample far from
# its class would be *rewarded*. SphereFace replaces it by a function that equals $\cos(m\theta)$ on
# $[0, \pi/m]$ and keeps falling:
#
# $$\psi(\theta) = (-1)^k\cos(m\theta) - 2k, \qquad \theta\in\Bigl[\tfrac{k\pi}{m}, \tfrac{(k+1)\pi}{m}\Bigr],\ k = 0, \dots, m-1,$$
#
# and the target logit is $\lVert x\rVert\,\psi(\theta_y)$; the other logits stay $\lVert x\rVert\cos\theta_j$.

# %%
theta = torch.linspace(0, math.pi, 721, dtype=torch.float64)
degrees = np.degrees(theta.numpy())
fig, (ax_psi, ax_plane) = plt.subplots(1, 2, figsize=(13, 4.5), constrained_layout=True,
                                       gridspec_kw={"width_ratios": [3, 2]})
for m in range(1, 5):
    (line,) = ax_psi.plot(degrees, sphereface_psi(torch.cos(theta), m).numpy(), lw=2, label=f"ψ(θ), m = {m}")
    if m > 1:
        ax_psi.plot(degrees, torch.cos(m * theta).numpy(), "--", lw=0.8, color=line.get_color())
ax_psi.set(xlabel="θ (degrees)", ylabel="target logit / ‖x‖", xlim=(0, 180), xticks=range(0, 181, 30),
           title="ψ(θ) for m = 1..4 (dashed: plain cos(mθ))")
ax_psi.legend()
viz.plot_binary_boundaries(loss="sphereface", m=4, ax=ax_plane)
plt.show()

# %% [markdown]
# Right: two classes in the $(\theta_1, \theta_2)$ plane. Class 1 wins with margin where
# $\psi(\theta_1) > \cos\theta_2$, i.e. $4\theta_1 < \theta_2$; the grey wedge belongs to nobody. Note the wedge
# is thin near $\theta = 0$: the angular gap $(m-1)\,\theta_1$ depends on the angle (exercise 3).
#
# ### Why $m$ must be an integer
#
# The library never computes $\theta$. For an integer $m$, $\cos(m\theta)$ is a **polynomial** in
# $\cos\theta$, the Chebyshev polynomial $T_m$: $T_1 = c$, $T_2 = 2c^2 - 1$, $T_3 = 4c^3 - 3c$,
# $T_4 = 8c^4 - 8c^2 + 1$, from $T_{n+1} = 2c\,T_n - T_{n-1}$. Polynomials have finite gradients everywhere.
# For a non-integer $m$, $\cos(m\theta)$ needs half-angles or $\arccos$, e.g. $\cos(\theta/2) = \sqrt{(1+c)/2}$,
# whose derivative is infinite at $c = \pm1$, exactly where well-trained features go ($\theta_y \to 0$).
# (The integer also makes $\psi$'s pieces tile $[0, \pi]$ exactly: $k$ runs over $0, \dots, m-1$.)

# %%
# NBVAL_CHECK_OUTPUT
c = torch.cos(theta)
chebyshev = {2: 2 * c**2 - 1, 3: 4 * c**3 - 3 * c, 4: 8 * c**4 - 8 * c**2 + 1}
for m, polynomial in chebyshev.items():
    torch.testing.assert_close(polynomial, torch.cos(m * theta))
    print(f"cos({m} theta) == T_{m}(cos theta) on 721 angles")
try:
    SphereFace(2, 10, m=2.5)
except ValueError as error:
    print("SphereFace(m=2.5):", error)

# %% [markdown]
# ## 3 · SphereFace is two methods
#
# The normalised softmax of notebook 00 (`NormFace`) computes $\cos\theta_j$ with normalised weights and
# features and multiplies by a fixed scale $s$. SphereFace changes two hooks: the target cosine becomes
# $\psi(\theta_y)$ (blended with $\cos\theta_y$ by the annealing weight $\lambda$ of the next section), and
# the scale is the feature norm $\lVert x\rVert$ instead of $s$. Written the textbook way, with $\arccos$:

# %%
class MySphereFace(NormFace):
    """A-Softmax: target logit |x| (lamb cos(theta_y) + psi(theta_y)) / (1 + lamb), other logits |x| cos."""

    def __init__(self, embedding_dim, num_classes, *, m=4, lamb=0.0):
        super().__init__(embedding_dim, num_classes, s=1.0)
        self.m, self.lamb = m, lamb

    def target_cosine(self, cos):
        # theta_y [N] and the piece k = floor(m theta / pi) it lies in
        theta = torch.acos(cos.clamp(-1.0, 1.0))
        k = torch.floor(self.m * theta / math.pi)
        # psi(theta) = (-1)^k cos(m theta) - 2k, then the annealing blend with cos(theta)
        psi = (-1.0) ** k * torch.cos(self.m * theta) - 2 * k
        return (self.lamb * cos + psi) / (1 + self.lamb)

    def scale_logits(self, cos, embeddings):
        # the scale is the feature norm |x| [N, 1], not a fixed s
        return embeddings.norm(dim=1, keepdim=True) * cos


# %% [markdown]
# Checked against the library's `SphereFace` (Chebyshev polynomials, no $\arccos$) for $m = 1..4$, with and
# without annealing, on the same weights and inputs (float64: the check measures the formula, not round-off):

# %%
seed_everything(0)
x = 3 * torch.randn(512, 2, dtype=torch.float64)  # 512 random 2-D features of various norms
y = torch.randint(0, 10, (512,))
for m in range(1, 5):
    for lamb in (0.0, 5.0):
        library = SphereFace(2, 10, m=m).double()
        library.lamb = lamb
        mine = MySphereFace(2, 10, m=m, lamb=lamb).double()
        mine.load_state_dict(library.state_dict())  # the same class weights W [10, 2]
        torch.testing.assert_close(mine.logits(x, y), library.logits(x, y))
        torch.testing.assert_close(mine(x, y), library(x, y))
print("MySphereFace equals minifacenet.losses.SphereFace for m = 1..4, lambda = 0 and 5")

# %% [markdown]
# ## 4 · Why SphereFace needs $\lambda$ annealing
#
# At the start the features are random: $\theta_y \approx 90°$ for every sample. With $m = 4$,
# $\psi(90°) = -3$, so the target logit is $-3\lVert x\rVert$ while the others are near 0: the loss is huge,
# and the cheapest way to lower it is not to learn but to **shrink $\lVert x\rVert$**, which flattens all logits to
# 0 and parks the loss at $\ln C$. The official code therefore starts from the plain modified softmax and
# fades the margin in:
#
# $$f_y = \frac{\lambda\,\lVert x\rVert\cos\theta_y + \lVert x\rVert\,\psi(\theta_y)}{1+\lambda}, \qquad
# \lambda = \max\bigl(\lambda_\min,\ \text{base}\cdot(1+\gamma\cdot\text{iteration})^{-\text{power}}\bigr),$$
#
# with base 1000, $\gamma = 0.12$, power 1, $\lambda_\min = 5$. The library's `SphereFace.anneal(iteration)`
# computes $\lambda$; `fit` calls it at every step. $\lambda_\min$ is the knob: a large one keeps a weak margin.

# %%
iterations = np.arange(0, 3001)
official = SphereFace(2, 10)
lambdas = [official.anneal(int(t)) for t in iterations]
fig, (ax_lamb, ax_blend) = plt.subplots(1, 2, figsize=(13, 4.2), constrained_layout=True)
ax_lamb.semilogy(iterations, lambdas)
ax_lamb.set(xlabel="iteration", ylabel="λ", title="official schedule: 1000 / (1 + 0.12 t), at least 5")
for lamb in (1000, 20, 5, 1, 0):
    blend = MySphereFace(2, 2, m=4, lamb=lamb).target_cosine(torch.cos(theta))
    ax_blend.plot(degrees, blend.detach(), label=f"λ = {lamb}")
ax_blend.set(xlabel="θ (degrees)", ylabel="target logit / ‖x‖", xlim=(0, 180), xticks=range(0, 181, 30),
             title="m = 4: the margin fades in as λ falls")
ax_blend.legend()
plt.show()

# %% [markdown]
# The official schedule reaches $\lambda_\min = 5$ after about 1,660 iterations of the paper's 28,000. Our
# runs are a few hundred steps, so we keep the shape and choose $\gamma$ such that $\lambda$ reaches
# $\lambda_\min$ halfway through training. We use $\lambda_\min = 1$: a visible margin, still trainable.

# %%
def annealed_sphereface(embedding_dim, num_classes, *, m, steps, lamb_min=1.0, lamb_base=1000.0):
    """A SphereFace head whose lambda falls from ``lamb_base`` to ``lamb_min`` in half of ``steps``."""
    # solve base / (1 + gamma t) = lamb_min for gamma at t = steps / 2
    gamma = (lamb_base / max(lamb_min, 1e-3) - 1) / (steps / 2) if lamb_base > 0 else 0.0
    return SphereFace(embedding_dim, num_classes, m=m, lamb_base=lamb_base, lamb_gamma=gamma, lamb_min=lamb_min)


def train(head, images, labels, *, embedding_dim):
    """An EmbeddingNet trained with ``head``; the returned history has per-epoch loss and accuracy."""
    seed_everything(0)
    net = EmbeddingNet(embedding_dim=embedding_dim)
    history = fit(net, head, images, labels, epochs=EPOCHS, batch_size=BATCH, lr=1e-2, progress=False)
    return net, history


# %% [markdown]
# ## 5 · SphereFace's Fig. 5: 3-D features of 6 classes for $m = 1, 2, 3, 4$
#
# As in the paper: 6 classes (the digits 0–5), 3-D features, one model per $m$ with the same data, network
# and schedule. $m = 1$ is the modified softmax (no margin). Above: the test features, normalised onto the
# sphere. Below: the angle between two test features, for pairs of the same class (positive) and of
# different classes (negative).

# %%
train_images, train_labels = mnist(train=True)
test_images, test_labels = mnist(train=False)
test_images, test_labels = test_images[:TEST_SIZE], test_labels[:TEST_SIZE]
keep = train_labels < 6
six_images, six_labels = train_images[keep][:SIX_SIZE], train_labels[keep][:SIX_SIZE]
keep = test_labels < 6
six_test_images, six_test_labels = test_images[keep], test_labels[keep]
six_steps = EPOCHS * (len(six_images) // BATCH)
print(f"6 classes: {len(six_images)} training and {len(six_test_images)} test digits; {six_steps} steps")

# %%
six = {}
for m in range(1, 5):
    seed_everything(0)  # the same initial class weights (and network) for every m
    head = annealed_sphereface(3, 6, m=m, steps=six_steps)
    net, history = train(head, six_images, six_labels, embedding_dim=3)
    emb = embed(net, six_test_images)  # [N, 3]
    six[m] = {"head": head, "embeddings": emb, "history": history,
              "accuracy": accuracy(predict(head, emb), six_test_labels),
              "angles": angle_statistics(emb, six_test_labels, weight=head.weight)}
    print(f"m = {m}: loss per epoch {[round(v, 3) for v in history['loss']]}, final lambda {head.lamb:.2f}, "
          f"test accuracy {six[m]['accuracy']:.4f}")

# %%
# the notebook fails here if a model did not train
for m, run in six.items():
    assert run["history"]["loss"][-1] < run["history"]["loss"][0], f"m = {m}: the loss did not decrease"
    assert run["accuracy"] > (0.6 if FAST else 0.9), f"m = {m}: test accuracy {run['accuracy']:.3f}"


# %%
def pair_angles(embeddings, labels, *, max_points=1000):
    """Angles (radians) of all pairs among the first ``max_points`` samples: (positive, negative)."""
    unit = torch.nn.functional.normalize(embeddings[:max_points], dim=1)
    angle = torch.acos((unit @ unit.T).clamp(-1, 1))  # [M, M]
    same = labels[:max_points, None] == labels[None, :max_points]
    upper = torch.ones_like(same).triu(1)  # each pair once, no self-pairs
    return angle[same & upper].numpy(), angle[~same & upper].numpy()


fig = plt.figure(figsize=(16, 7.5), constrained_layout=True)
for m, run in six.items():
    ax = fig.add_subplot(2, 4, m, projection="3d")
    viz.plot_sphere_static(run["embeddings"], six_test_labels, run["head"].weight, loss="sphereface", m=m, ax=ax)
    ax.set_title(f"m = {m}: accuracy {run['accuracy']:.3f}")
    positive, negative = pair_angles(run["embeddings"], six_test_labels)
    run["positive_95"], run["negative_5"] = np.percentile(positive, 95), np.percentile(negative, 5)
    ax = fig.add_subplot(2, 4, 4 + m)
    bins = np.linspace(0, math.pi, 61)
    ax.hist(positive, bins=bins, density=True, alpha=0.6, color="C1", label="positive pairs")
    ax.hist(negative, bins=bins, density=True, alpha=0.6, color="C0", label="negative pairs")
    ax.set(xlabel="angle between the two features (radians)", ylabel="density", title=f"m = {m}")
    ax.legend(fontsize=8)
plt.show()

# %%
# 95% of positive pairs lie below the first angle, 95% of negative pairs above the second
print(" m   accuracy   intra-class angle   inter-class angle   95% positive <   95% negative >   (degrees)")
for m, run in six.items():
    print(f"{m:2d} {run['accuracy']:10.4f} {run['angles']['intra']:17.1f} {run['angles']['inter']:19.1f}"
          f" {math.degrees(run['positive_95']):16.1f} {math.degrees(run['negative_5']):16.1f}")

# %% [markdown]
# The larger $m$, the tighter each class (smaller intra-class angle, positives pushed towards 0) and the wider
# the gap between positive and negative angles. The check below compares $m = 4$ with $m = 1$.

# %%
assert six[4]["angles"]["intra"] < six[1]["angles"]["intra"], "m = 4 should give tighter classes than m = 1"

# %% [markdown]
# Rotate the $m = 4$ sphere yourself (drag it). The coloured caps are where each class wins with SphereFace's
# margin (pure A-Softmax, $\lambda = 0$); gaps are grey; red crosses are test digits that violate it.

# %%
# NBVAL_IGNORE_OUTPUT
viz.plot_sphere(six[4]["embeddings"], six_test_labels, six[4]["head"].weight, loss="sphereface", m=4,
                max_points=1500, resolution=30).show()

# %% [markdown]
# ### Without annealing
#
# The same $m = 4$ model, trained with pure A-Softmax from the first step ($\lambda = 0$ throughout):

# %%
seed_everything(0)
plain = SphereFace(3, 6, m=4, lamb_base=0.0, lamb_min=0.0)
plain_net, plain_history = train(plain, six_images, six_labels, embedding_dim=3)
plain_embeddings = embed(plain_net, six_test_images)
plain_accuracy = accuracy(predict(plain, plain_embeddings), six_test_labels)
print(f"no annealing: loss per epoch {[round(v, 3) for v in plain_history['loss']]} "
      f"(ln 6 = {math.log(6):.3f}), test accuracy {plain_accuracy:.4f}, "
      f"mean feature norm {plain_embeddings.norm(dim=1).mean():.2f}")
print(f"annealed:     loss per epoch {[round(v, 3) for v in six[4]['history']['loss']]}, "
      f"test accuracy {six[4]['accuracy']:.4f}, mean feature norm {six[4]['embeddings'].norm(dim=1).mean():.2f}")

# %% [markdown]
# Read the printout: without annealing the first epoch's loss is far above that of the annealed run, and the
# features end with a smaller norm $\lVert x\rVert$ (the scale of every logit), as the argument above predicts.
# In our small network (BatchNorm, Adam, a learning-rate warm-up) pure A-Softmax still learns, only more slowly;
# with the paper's deep networks and plain SGD this is where training stalls at $\ln C$ or diverges.

# %% [markdown]
# ## 6 · 2-D features of all ten digits, and the margin explorer
#
# Ten classes on one circle leave $36°$ each: SphereFace's multiplicative margin is hard to meet there. We
# train with $m = 2$ (annealed to $\lambda_\min = 1$).

# %%
seed_everything(0)
steps = EPOCHS * (TRAIN_SIZE // BATCH)
head2 = annealed_sphereface(2, 10, m=2, steps=steps)
net2, history2 = train(head2, train_images[:TRAIN_SIZE], train_labels[:TRAIN_SIZE], embedding_dim=2)
embeddings2 = embed(net2, test_images)  # [N, 2]
accuracy2 = accuracy(predict(head2, embeddings2), test_labels)
print(f"2-D SphereFace m = 2: loss per epoch {[round(v, 3) for v in history2['loss']]}, "
      f"test accuracy {accuracy2:.4f}")
assert history2["loss"][-1] < history2["loss"][0] and accuracy2 > (0.4 if FAST else 0.8)

# %%
viz.plot_margin_circle(embeddings2, test_labels, head2.weight, loss="sphereface", m=2, raw=True,
                       max_points=3000)
plt.show()

# %% [markdown]
# The explorer on this 2-D model: **m** is SphereFace's integer margin (1 to 6); watch the coloured arcs
# (where each class wins with margin) shrink and the violators (red) multiply. Switch the **loss** to see the
# same features through CosFace's or ArcFace's margin, where **s** matters too.

# %%
# NBVAL_IGNORE_OUTPUT
MarginExplorer(head=head2, embeddings=embeddings2, labels=test_labels)

# %% [markdown]
# ## At full scale
#
# This notebook trains on a subset for a few epochs so that it runs in minutes on a laptop CPU. The same losses
# trained by the command-line tool on all 60 000 training digits (one seed, measured; the README's table,
# every run in `docs/results.md`):
#
# | head | test accuracy | command |
# |---|---|---|
# | SphereFace m = 4, 2-D | 99.13 % | `python -m minifacenet train --loss sphereface --dim 2 --margin 4 --epochs 10` |
# | SphereFace m = 4, 3-D | 99.47 % | `python -m minifacenet train --loss sphereface --dim 3 --margin 4 --epochs 10` |

# %% [markdown]
# ## Exercises
#
# **1.** Extend the Chebyshev recursion to $m = 5$ and check that `sphereface_psi(cos, 5)` equals $T_5(\cos\theta)$
# on $[0, \pi/5]$.
#
# <details><summary>Solution</summary>
#
# $T_5 = 2c\,T_4 - T_3 = 16c^5 - 20c^3 + 5c$.
#
# ```python
# t = torch.linspace(0, math.pi / 5, 101, dtype=torch.float64)
# c = torch.cos(t)
# torch.testing.assert_close(sphereface_psi(c, 5), 16 * c**5 - 20 * c**3 + 5 * c)
# ```
# </details>
#
# **2.** With the official schedule, at which iteration does $\lambda$ reach $\lambda_\min = 5$? Which $\gamma$
# does `annealed_sphereface` pick for a 200-step run with $\lambda_\min = 1$?
#
# <details><summary>Solution</summary>
#
# $1000/(1 + 0.12\,t) = 5$ gives $t = 199/0.12 \approx 1658$. For 200 steps, $\lambda = 1$ at $t = 100$:
# $\gamma = 999/100 = 9.99$.
#
# ```python
# print(next(t for t in range(10000) if SphereFace(2, 10).anneal(t) == 5.0))   # 1659
# print(annealed_sphereface(2, 10, m=4, steps=200).lamb_gamma)                  # 9.99
# ```
# </details>
#
# **3.** SphereFace's boundary is $m\,\theta_1 = \theta_2$. How wide is the angular gap $\theta_2 - \theta_1$ it
# asks for at $\theta_1 = 5°$ and at $\theta_1 = 40°$ when $m = 4$? Why is that a weakness?
#
# <details><summary>Solution</summary>
#
# The gap is $(m - 1)\theta_1$: $15°$ at $5°$, $120°$ at $40°$. The margin vanishes for samples already close to
# their class weight, and is enormous (impossible in 2-D) for the others. It depends on the angle, which is
# why CosFace (04) and ArcFace (05) use additive margins instead.
# </details>

# %% [markdown]
# ## What to remember
#
# - With normalised class weights and no bias, the logits are $\lVert x\rVert\cos\theta_j$: classification by angle.
# - A-Softmax's target logit $\lVert x\rVert\,\psi(\theta_y)$, $\psi(\theta) = (-1)^k\cos(m\theta) - 2k$, asks for
#   $m\,\theta_y < \theta_j$; an integer $m$ makes $\cos(m\theta)$ a polynomial in $\cos\theta$ (no $\arccos$).
# - It does not train without annealing: start from the plain softmax ($\lambda$ large), fade the margin in,
#   stop at $\lambda_\min$; scale the schedule to the length of your run.
# - A larger $m$ gives tighter classes and a wider gap between positive and negative angles (Fig. 5), but the
#   margin is multiplicative, so it is small near $\theta = 0$.
