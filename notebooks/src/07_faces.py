# %% [markdown]
# # 07 · Faces: recognising people the network never saw
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/07_faces.ipynb)
#
# **What you will learn**
# - The open-set protocol: train on some people, test on **other** people; only the embedding carries over.
# - How face verification is measured: ROC, AUC, EER, **TAR@FAR**, each loss by the similarity it trains for.
# - What every loss of the course does with real faces: ArcFace's Fig. 3, the faces scoreboard, and verdicts
#   from paired per-fold differences.
# - The hardest false accepts and false rejects, as image pairs.
#
# Previous: [06 · What helps strangers](06_what_helps_strangers.ipynb) · Next: [08 · Margin playground](08_margin_playground.ipynb)

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
FAST = False  # True: a shortened run, about 0.5 min on a 2-core CPU; False: the full lesson, about 2 min
import os
from dataclasses import replace

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from minifacenet import faces
from minifacenet.data import olivetti
from minifacenet.metrics import angle_statistics, hardest_pairs, verification
from minifacenet.train import embed, seed_everything

# MINIFACENET_FAST=1 or 0 (CI, the build script) overrides the FAST line at the top of this cell.
FAST = {"1": True, "0": False}.get(os.environ.get("MINIFACENET_FAST"), FAST)
SEED = int(os.environ.get("MINIFACENET_SEED", "0"))  # the course's asserts hold for other seeds too
seed_everything(SEED)
TOY_EPOCHS = 12 if FAST else 60  # the 8-person 2-D/3-D pictures (80 images)
TABLE_EPOCHS = 5 if FAST else 30  # each run of the open-set table (300 images)
TABLE_FOLDS = 4  # all 4 identity folds of one shuffle; the README table uses 8 folds (two shuffles), 40 epochs
print(f"fast mode: {FAST}")

# %% [markdown]
# ## 1 · Forty people, ten photos each
#
# The Olivetti faces (AT&T Laboratories Cambridge, 1992–94): 40 people, 10 grey 64×64 photos each, with
# changes of pose, expression, glasses and lighting. Tiny next to the papers' millions of photos, which
# makes it a fair test of what a *loss* does when data is scarce. We shrink the photos to 32×32.
#
# **The open-set split.** The *people* are split: each of 4 folds trains on 30 people and tests on the 10
# others.

# %%
images, labels = faces.load_faces(resolution=32)  # [400, 1, 32, 32], identities [400]
full_images, _ = olivetti()  # [400, 1, 64, 64], for looking at
splits = faces.open_set_splits(labels, num_unseen=10, seed=0)
print(tuple(images.shape), "| people per fold: train", len(splits[0].train_identities),
      "test", len(splits[0].test_identities))
print("unseen in fold 0:", splits[0].test_identities)

# %%
fig, axes = plt.subplots(4, 10, figsize=(10, 4.6))
for person, ax in enumerate(axes.flat):
    ax.imshow(full_images[person * 10, 0], cmap="gray", vmin=0, vmax=1)
    unseen = person in splits[0].test_identities
    ax.set_title(f"{person}" + (" (test)" if unseen else ""), fontsize=7, color="C0" if unseen else "k")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set(color="C0" if unseen else "0.8", lw=2 if unseen else 0.5)
fig.suptitle("One photo of each person; blue frame: the 10 people fold 0 never trains on", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Augmentation.** With 10 photos a person the network memorises quickly. Each training batch is
# flipped left-right (per image, with probability ½) and shifted by up to 2 pixels
# (`faces.augmenter`, handed to `fit(..., augment=...)`):

# %%
torch.manual_seed(0)
originals = images[:8]
augmented = faces.augmenter(max_shift=2, flip=True)(originals)
fig, axes = plt.subplots(2, 8, figsize=(8, 2.2))
for k in range(8):
    axes[0, k].imshow(originals[k, 0], cmap="gray", vmin=0, vmax=1)
    axes[1, k].imshow(augmented[k, 0], cmap="gray", vmin=0, vmax=1)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("top: photos of person 0; bottom: one random augmentation of each", fontsize=9)
plt.show()


# %% [markdown]
# ## 2 · The ArcFace toy: 8 people in 2-D, softmax against ArcFace (ArcFace, Fig. 3)
#
# ArcFace's Fig. 3 draws 2-D features of 8 identities on the circle: softmax leaves classes side by side,
# ArcFace opens gaps, since each sample must be $m$ radians closer to its own weight than to any other
# ($m = 0.3$, $s = 10$ here). Softmax and ArcFace differ in two ways, the normalised head and the margin, so a
# third panel trains **NormFace** (normalised, $s = 10$, no margin) from the same start: ArcFace minus NormFace
# is the margin alone. All are projected onto the circle (the cosine sees only directions); lines: the class
# weights $W_j$.

# %%
import numpy as np

from minifacenet import viz
from minifacenet.openset import Scoreboard, format_value, paired_differences

eight = torch.isin(labels, torch.arange(8))  # people 0..7, all 10 photos each
toy_images, toy_labels = images[eight], labels[eight]
TOY_CONFIG = replace(faces.FaceConfig(), epochs=TOY_EPOCHS, batch_size=16, classes_per_batch=4)
TOY_PARAMS = {  # 2-D, 8 classes: a small scale and small margins (see notebooks 04 and 05)
    "normface": {"s": 10.0},
    "sphereface": {"m": 2},
    "cosface": {"s": 10.0, "m": 0.2},
    "arcface": {"s": 10.0, "m": 0.3},
}


def train_toy(loss_name):
    """One loss on the 8 people with 2-D features: (embeddings, class weights or None, history)."""
    config = replace(TOY_CONFIG, embedding_dim=2)
    model, loss, history = faces.train_face_model(
        loss_name, toy_images, toy_labels, config=config, params=TOY_PARAMS.get(loss_name), seed=SEED)
    weight = loss.weight.detach() if hasattr(loss, "weight") else None
    return embed(model, toy_images), weight, history


toy = {name: train_toy(name) for name in ("softmax", "normface", "arcface")}
fig, axes = plt.subplots(1, 3, figsize=(15, 5.3), constrained_layout=True)
for ax, name in zip(axes, ("softmax", "normface", "arcface"), strict=True):
    emb, weight, _ = toy[name]
    viz.plot_embeddings(emb, toy_labels, weight=weight, ax=ax, normalize=True, point_size=16,
                        title=f"{name}: 2-D features of 8 people, on the circle")
plt.show()

# %%
# ArcFace's Table 3 angles (degrees) of these 2-D features: Intra (sample to class centre), Inter (nearest
# other centre), W-EC (class weight to class centre), W-Inter (nearest other weight)
toy_angles = {name: angle_statistics(toy[name][0], toy_labels, weight=toy[name][1]) for name in toy}
for name, stats in toy_angles.items():
    print(f"{name:8s} " + "  ".join(f"{key} {value:5.1f}°" for key, value in stats.items()))
margin_alone = {key: toy_angles["arcface"][key] - toy_angles["normface"][key] for key in toy_angles["arcface"]}
print("the margin alone, ArcFace minus NormFace (same start, same photos, one run): "
      + "  ".join(f"{key} {value:+5.1f}°" for key, value in margin_alone.items()))
assert toy["arcface"][2]["loss"][-1] < toy["arcface"][2]["loss"][0], "ArcFace did not learn"
# what the next cell says: both normalised heads keep their weights spread from the start, softmax's are not
for name in ("normface", "arcface"):
    assert toy_angles[name]["w_inter"] > toy_angles["softmax"]["w_inter"], toy_angles
    assert toy_angles[name]["w_ec"] < toy_angles["softmax"]["w_ec"], toy_angles

# %% [markdown]
# The weights' even spread around the circle is not the margin's doing: the library *starts* every normalised
# head with its weights evenly spread (notebook 00, exercise 4), and NormFace, with no margin, keeps that
# spread too (compare its W-Inter with ArcFace's). Softmax's weights, unnormalised and trained only to
# separate, neither spread evenly nor point at their classes (its W-EC is large). The margin's own effect is
# the last line, ArcFace minus NormFace: one run of 80 photos, so read it as this run's, not as a law. The
# paper's claim that the margin tightens classes comes from ResNet50 features of CASIA-WebFace's 10,575 people
# (its Table 3).
#
# ## 3 · Every loss, 2-D features
#
# The same 8 people with each loss: on the circle when judged by direction; as trained for contrastive
# (Euclidean distance) and softmax (its logits $W_j x$ use the length).

# %%
for name in faces.FACE_LOSSES:
    if name not in toy:
        toy[name] = train_toy(name)

fig, axes = plt.subplots(2, 4, figsize=(16, 8.4), constrained_layout=True)
for ax, name in zip(axes.flat, faces.FACE_LOSSES, strict=False):
    emb, weight, _ = toy[name]
    on_circle = name not in ("softmax", "contrastive")
    viz.plot_embeddings(emb, toy_labels, weight=weight, ax=ax, normalize=on_circle, legend=False,
                        point_size=12, title=f"{name}" + (" (on the circle)" if on_circle else " (as trained)"))
intra = [angle_statistics(toy[name][0], toy_labels)["intra"] for name in faces.FACE_LOSSES]
axes.flat[-1].barh(list(faces.FACE_LOSSES), intra, color="0.5")
axes.flat[-1].invert_yaxis()
axes.flat[-1].set(xlabel="Intra: mean angle to the class centre (degrees)", title="how tight each class is")
plt.show()

# %% [markdown]
# ## 4 · Measuring on strangers: verification, recognition, clustering
#
# The 10 strangers of a fold give $\binom{100}{2} = 4950$ photo pairs, 450 of the same person, each scored by
# the similarity its loss trains for (cosine; the Euclidean distance for contrastive).
#
# - **ROC**: accept a pair above a threshold; sweeping it traces TAR (genuine pairs accepted) against FAR
#   (impostor pairs accepted). **AUC**: the area under it; **EER**: where FAR = 1 − TAR.
# - **TAR@FAR=1 %**: the genuine pairs accepted when 1 % of impostors get in, how face systems are compared.
# - **Verification accuracy** (LFW): threshold chosen on 9 folds of pairs, counted on the 10th; **1-NN gallery**:
#   each photo against a gallery of one photo per person (the scoreboard's); **1-NN leave-one-out**: each photo
#   against all the others (the fold log's, and the README's faces table); **NMI** of k-means clusters.

# %%
# NBVAL_CHECK_OUTPUT
toy_verification = verification(toy["arcface"][0], toy_labels)
print(toy_verification["positives"], "same-person pairs,", toy_verification["negatives"], "different-person pairs")
print(sorted(k for k in toy_verification if k != "roc"))

# %% [markdown]
# > **Misconception: a higher AUC means a better face system.** A deployed system runs at one threshold, where
# > few impostors get in: TAR@FAR = 1 % reads the left edge of the ROC, AUC averages the whole curve. Two
# > losses need not keep their order from one to the other, so the verdict below prints both.
#
# ### The scoreboard on faces
#
# Each loss trains a 128-D embedding from the same initial network on the same 30 people per fold; the mean
# over folds on the 10 strangers. *untrained* is that initial network: a loss earns credit only above it.

# %%
table_config = replace(faces.FaceConfig(), epochs=TABLE_EPOCHS)
table_splits = splits[:TABLE_FOLDS]
results = [faces.untrained_fold(images, labels, split, config=table_config) for split in table_splits]
results += faces.compare_losses(images, labels, table_splits, config=table_config)
LOSSES = ("untrained", *faces.FACE_LOSSES)
HEADS = ("softmax", "normface", "sphereface", "cosface", "arcface")  # the losses with class weights


def by_fold(key):
    """{loss: {fold: score}} for one score, from the runs above."""
    scores = {}
    for result in results:
        scores.setdefault(result.loss, {})[result.fold] = result.scores[key]
    return scores


def mean_scores(loss_name):
    """The mean over folds of every score of one loss, and the measure it was scored by."""
    runs = [r for r in results if r.loss == loss_name]
    means = {key: float(np.mean([r.scores[key] for r in runs])) for key in runs[0].scores}
    return {**means, "metric": runs[0].metric}


from dataclasses import asdict

from minifacenet.openset import run_setting

# every row shares one setting: the same people, epochs, network and recipe, each fold's seed = the fold
table_setting = run_setting(
    train_images=len(table_splits[0].train_index), epochs=table_config.epochs, dim=table_config.embedding_dim,
    network={"widths": table_config.widths, "resolution": table_config.resolution},
    recipe={key: value for key, value in asdict(table_config).items()
            if key not in ("embedding_dim", "widths", "resolution", "epochs")},
    seed=[split.fold for split in table_splits], folds=TABLE_FOLDS,
)
scoreboard = Scoreboard("faces", order=LOSSES, reference=None)
scoreboard.clear()
for name in LOSSES:
    # the scores that exist for this loss (no W-EC without class weights: NaN is left out)
    report = {key: value for key, value in mean_scores(name).items() if isinstance(value, str) or np.isfinite(value)}
    scoreboard.add(name, report, setting=table_setting, note=f"06: mean of {TABLE_FOLDS} folds")
display(Markdown(scoreboard.markdown()))

# %% [markdown]
# **Contrastive** trains on the Euclidean distance between raw embeddings and is scored by that distance; its
# margin sets the scale the embeddings settle at, and MNIST's 1.0 left these 128-D embeddings' training people
# barely apart, at the untrained network's level, so faces use 5 (`docs/faces.md`): above the untrained network
# here, still far below the heads.
#
# ### The verdict: each loss minus softmax on the same fold
#
# Folds differ in difficulty, which inflates every loss's spread; the difference on the **same fold** (the same
# strangers) cancels it.

# %%
print("loss minus softmax on the same fold, in points: mean (min .. max), folds where the loss is higher")
for key in ("tar@far=0.01", "auc"):
    for name, gap in paired_differences(by_fold(key), baseline="softmax").items():
        if name in ("softmax", "untrained"):
            continue
        verdict = ("higher on every fold" if gap["min"] > 0 else "lower on every fold" if gap["max"] < 0
                   else "mixed: not settled by these folds")
        print(f"{key:13s} {name:12s} {100 * gap['mean']:+6.1f} ({100 * gap['min']:+.1f} .. {100 * gap['max']:+.1f}),"
              f" {gap['wins']} of {gap['pairs']}: {verdict}")
# trained embeddings must beat the random network on strangers, in fast mode too
auc = {name: mean_scores(name)["auc"] for name in LOSSES}
assert auc["arcface"] > auc["untrained"], auc
assert all(value > 0.6 for value in auc.values()), auc
if not FAST:  # what the cell above the verdict says of contrastive (margin 5), in the full run
    tar = {name: mean_scores(name)["tar@far=0.01"] for name in LOSSES}
    assert auc["contrastive"] > auc["untrained"] and tar["contrastive"] < min(tar[name] for name in HEADS), tar

# %% [markdown]
# With four folds, "every fold" means four times: a direction, not proof. The README's faces table makes the same
# paired comparison on 8 folds (`python scripts/faces_table.py --repeats 2`; discussed in `docs/faces.md`), and
# there some of these verdicts turn: ArcFace's AUC is below softmax's on some folds, triplet's TAR@FAR=1 % is
# ahead on 3 of 8, and NormFace's mean TAR@FAR=1 % difference is positive. Quote the 8 folds, not these 4.
#
# ### Overlaid ROC curves
#
# Log FAR axis: what matters is the left edge, where few impostors get in. Mean TAR over folds.

# %%
far_grid = np.logspace(-3, 0, 61)  # FAR from 0.1 % to 100 %
fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
for k, name in enumerate(LOSSES):
    # [folds, 61] TAR of each fold's ROC, read at the same FARs
    tar = np.stack([np.interp(far_grid, r.roc["fpr"], r.roc["tpr"]) for r in results if r.loss == name])
    ax.plot(far_grid, tar.mean(0), lw=2.5 if name in ("softmax", "arcface") else 1.2,
            color="0.5" if name == "untrained" else f"C{k - 1}", ls="--" if name == "untrained" else "-", label=name)
ax.axvline(0.01, color="0.7", lw=0.8)
ax.set(xscale="log", xlabel="FAR (impostor pairs accepted)", ylabel="TAR (genuine pairs accepted)",
       title=f"unseen people, mean over {TABLE_FOLDS} folds")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# ### Angles: what the margin did to the training people (ArcFace, Table 3)
#
# Degrees, mean over folds: W-EC, W-Inter, Intra, Inter on the training people (`train_`), Intra and Inter on
# the strangers, who have no class weights.

# %%
ANGLES = ("train_w_ec", "train_w_inter", "train_intra", "train_inter", "intra", "inter")
print(f"{'':12s}" + "".join(f"{key:>15s}" for key in ANGLES))
for name in faces.FACE_LOSSES:
    means = mean_scores(name)
    print(f"{name:12s}" + "".join(f"{format_value(means[key]):>15s}" for key in ANGLES))

# %% [markdown]
# ## 5 · The hardest mistakes
#
# ArcFace, fold 0, at its EER threshold: the impostor pairs with the **highest** cosine and the genuine pairs
# with the **lowest**. Look for glasses, a turned head, the lighting.

# %%
arcface_fold0 = next(r for r in results if r.loss == "arcface" and r.fold == 0)
mistakes = hardest_pairs(arcface_fold0.test_embeddings, arcface_fold0.test_labels,
                         threshold=arcface_fold0.threshold, count=5)
to_global = arcface_fold0.test_index  # positions among the fold's test photos -> photo numbers
fig = plt.figure(figsize=(12, 4.6), constrained_layout=True)
rows = fig.subfigures(2, 1)
for row, kind in zip(rows, ("false_accepts", "false_rejects"), strict=True):
    row.suptitle(kind.replace("_", " "), fontsize=10)
    axes = row.subplots(1, 10)
    for k, (i, j, score) in enumerate(mistakes[kind]):
        for ax, photo in zip(axes[2 * k: 2 * k + 2], (i, j), strict=True):
            ax.imshow(full_images[int(to_global[photo]), 0], cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
        axes[2 * k].set_title(f"cos {score:.2f}", fontsize=9, loc="left")
fig.suptitle(f"ArcFace, fold 0, threshold cos = {arcface_fold0.threshold:.2f}", fontsize=11)
plt.show()

# %% [markdown]
# ## What to remember
#
# - Open-set means split by **person**; only the embedding and a threshold on its similarity remain.
# - Score all pairs (ROC, TAR at a low FAR), each loss by the similarity it trains for.
# - A random network already scores well above chance; credit a loss only for what it adds.
# - Compare two losses by their difference **on the same fold**, not by their spreads.

# %% [markdown]
# ## Going further: exercises
#
# **1.** Train on fewer people: with `num_unseen=20` the network sees 20 people and meets 20 strangers.
# Does ArcFace's TAR@FAR=1 % go up or down, and why?
#
# <details><summary>Solution</summary>
#
# It drops (measured with the full-mode settings: 56 % on the 2 folds of 20 strangers, against 69 % above with
# 10): fewer training identities means fewer directions the network has learned to tell apart, and the
# strangers are now 20 (more impostor pairs that can collide). The embedding is learned *from the
# variety of people*, which is why the papers train on tens of thousands of them.
#
# ```python
# splits20 = faces.open_set_splits(labels, num_unseen=20)
# few = faces.compare_losses(images, labels, splits20, losses=("arcface",), config=table_config)
# print(np.mean([r.scores["tar@far=0.01"] for r in few]))
# ```
# </details>
#
# **2.** Margin or no margin on faces: compare ArcFace with $m = 0$ (that is NormFace with $s = 16$), $0.2$
# and $0.5$ on the same folds, as paired differences to $m = 0$.
#
# <details><summary>Solution</summary>
#
# ```python
# tar = {}
# for m in (0.0, 0.2, 0.5):
#     runs = faces.compare_losses(images, labels, table_splits, losses=("arcface",), config=table_config,
#                                 params={"arcface": {"m": m}}, log=None)
#     tar[f"m = {m}"] = {r.fold: r.scores["tar@far=0.01"] for r in runs}
# print(paired_differences(tar, baseline="m = 0.0"))
# ```
# With 30 people and 300 photos the differences are a few points and not always of one sign (measured with the
# full-mode settings: $m = 0.2$ adds 2.8 points on average, from −1.8 to +9.3; $m = 0.5$ adds 5.6, from −2.0
# to +13.8, higher on 3 of the 4 folds): the margin matters most when many classes compete for directions.
# </details>
#
# **3.** Enrol a gallery: `minifacenet.metrics.recognition(embeddings, labels, gallery_per_class=k)` keeps
# $k$ photos per stranger as the gallery and identifies the rest. How does rank-1 accuracy grow with $k$?
#
# <details><summary>Solution</summary>
#
# ```python
# from minifacenet.metrics import recognition
# for k in (1, 3, 5):
#     print(k, recognition(arcface_fold0.test_embeddings, arcface_fold0.test_labels, gallery_per_class=k))
# ```
# More enrolled photos cover more poses and lighting, so the nearest gallery photo is more often the right
# person.
# </details>
