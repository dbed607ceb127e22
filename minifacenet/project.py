"""Where the project lives. The one place to edit when the repository moves.

``python scripts/colab_badges.py`` rewrites every notebook's "Open in Colab" badge and
Colab install line, and the README's badges, from these constants.
"""

GITHUB_REPO = "minifacenet/minifacenet"  # owner/name on GitHub (placeholder until published)
BRANCH = "main"


def colab_url(notebook: str) -> str:
    """The Colab address that opens ``notebooks/<notebook>`` from GitHub."""
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/{BRANCH}/notebooks/{notebook}"


def colab_badge(notebook: str) -> str:
    """Markdown for the "Open in Colab" badge of a notebook."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)})"


def pip_spec() -> str:
    """What the Colab setup cell installs: the package straight from the repository."""
    return f"minifacenet @ git+https://github.com/{GITHUB_REPO}@{BRANCH}"
