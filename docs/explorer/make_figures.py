"""Write the explorer's figures at two margins into docs/explorer/ (run from the repository root).

python docs/explorer/make_figures.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minifacenet import viz  # noqa: E402
from minifacenet.geometry import synthetic_2d  # noqa: E402

OUT = Path(__file__).resolve().parent


def sphere_data(num_classes: int = 6, per_class: int = 150, seed: int = 0):
    """Six classes on the sphere, samples scattered around their class directions."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(num_classes, 3))
    weight /= np.linalg.norm(weight, axis=1, keepdims=True)
    labels = np.repeat(np.arange(num_classes), per_class)
    embeddings = (weight[labels] + rng.normal(scale=0.15, size=(len(labels), 3))) * rng.lognormal(
        1.0, 0.3, (len(labels), 1)
    )
    return embeddings, labels, weight


def save(fig, name: str) -> None:
    fig.savefig(OUT / name, dpi=90, bbox_inches="tight")
    plt.close(fig)
    print("wrote", OUT / name)


def main() -> None:
    embeddings, labels, weight = synthetic_2d(spread=0.2)
    sphere = sphere_data()
    for tag, m, sphereface_m, cosface_m in (("m-small", 0.1, 2, 0.05), ("m-large", 0.4, 4, 0.2)):
        save(viz.plot_target_logits(m=m, sphereface_m=sphereface_m), f"1-target-logits-{tag}.png")
        save(viz.plot_all_binary_boundaries(m=m, sphereface_m=sphereface_m), f"2-binary-boundaries-{tag}.png")
        save(viz.plot_margin_circle(embeddings, labels, weight, loss="arcface", m=m, raw=True),
             f"3-circle-arcface-{tag}.png")  # fmt: skip
        save(viz.plot_margin_circle(embeddings, labels, weight, loss="cosface", m=cosface_m, raw=True),
             f"3-circle-cosface-{tag}.png")  # fmt: skip
        save(viz.plot_probability_vs_s(loss="cosface", m=cosface_m, s=10.0), f"4-probability-{tag}.png")
        save(viz.plot_sphere_static(*sphere, loss="arcface", m=m), f"5-sphere-{tag}.png")


if __name__ == "__main__":
    main()
