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
import torch

from minifacenet.train import seed_everything

# Fast mode (CI sets MINIFACENET_FAST=1) shrinks data and epochs; full mode is what you run.
FAST = os.environ.get("MINIFACENET_FAST") == "1"
seed_everything(0)
TRAIN_SIZE = 3000 if FAST else 60000
EPOCHS = 1 if FAST else 8
print(f"fast mode: {FAST}")
