"""Is the caller a Jupyter kernel? ``train_network(block=None)`` trains in the background there."""

from __future__ import annotations

import os


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook, Voila, Colab).

    ``POSEKIT_WIDGETS=0`` forces plain results, ``=1`` forces widgets.
    """
    forced = os.environ.get("POSEKIT_WIDGETS")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
