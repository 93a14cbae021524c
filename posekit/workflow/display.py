"""Results that show themselves as a widget in Jupyter, built on first display.

A verb returns the same object in a script and in a notebook. In a notebook, IPython
calls ``_ipython_display_`` on the cell's result; only then is the widget built (and
kept, so displaying it again shows the same live widget). Outside a notebook nothing
builds it, and ``widget()`` builds it on request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ShowsWidget:
    """Mixin: ``widget()`` builds (once) and returns this result's widget; Jupyter displays it."""

    _built_widget: Any = None

    def widget(self) -> Any:
        """The result's ipywidget, built on the first call."""
        if self._built_widget is None:
            self._built_widget = self._make_widget()
        return self._built_widget

    def _make_widget(self) -> Any:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())


def show_live_progress(make_widget: Callable[[], Any]) -> bool:
    """Show a blocking run's live progress as a widget, in a notebook only.

    A run that blocks the cell (a cluster analysis) cannot return its widget
    before it ends, so in a notebook its progress widget is displayed as it
    starts; the verb's result is the same either way. Returns whether it was
    shown (otherwise the caller prints progress, e.g. with tqdm).
    """
    from posekit.utils.notebook import in_notebook

    if not in_notebook():
        return False
    from IPython.display import display

    display(make_widget())
    return True
