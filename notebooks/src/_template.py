# %% [markdown]
# # NN · Title of the lesson
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minifacenet/minifacenet/blob/main/notebooks/NN_name.ipynb)
#
# **What you will learn**
# - one
# - two
#
# Previous: [..](..ipynb) · Next: [..](..ipynb)

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
FAST = False  # True: a shortened run, about 0.5 min on a 2-core CPU; False: the full lesson, about 3 min
import os

import matplotlib.pyplot as plt
import torch

from minifacenet.train import seed_everything

# MINIFACENET_FAST=1 or 0 (CI, the build script) overrides the FAST line at the top of this cell.
FAST = {"1": True, "0": False}.get(os.environ.get("MINIFACENET_FAST"), FAST)
SEED = int(os.environ.get("MINIFACENET_SEED", "0"))  # the course's asserts hold for other seeds too
seed_everything(SEED)
TRAIN_SIZE = 3000 if FAST else 60000
EPOCHS = 1 if FAST else 8
print(f"fast mode: {FAST}")
