"""Results show themselves in Jupyter: the same object everywhere, its widget built on first display."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import posekit
from posekit.workflow.display import ShowsWidget

PACKAGE = Path(posekit.__file__).parent


class _Counted(ShowsWidget, dict):
    built = 0

    def _make_widget(self):
        type(self).built += 1
        return object()


def test_widget_is_built_on_first_display_and_reused(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    result = _Counted(a=1)
    assert _Counted.built == 0  # a script never pays for the widget
    result._ipython_display_()
    result._ipython_display_()
    assert _Counted.built == 1 and shown == [result.widget(), result.widget()]
    assert result == {"a": 1}


def test_check_labels_displays_its_gallery_through_ipython(synthetic_copy):
    from IPython.core.formatters import DisplayFormatter

    from posekit.widgets.gallery import LabelGallery

    report = posekit.check_labels(synthetic_copy)
    assert isinstance(report, dict) and report._built_widget is None
    DisplayFormatter().format(report)  # what IPython does with a cell's result
    assert isinstance(report._built_widget, LabelGallery)


def _calls(name: str) -> list[str]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_in_notebook_is_asked_in_two_places_only():
    # train_network's block default (behaviour), and the live progress of a blocking run (display only)
    assert sorted(c.split(":")[0] for c in _calls("in_notebook")) == ["workflow/display.py", "workflow/training.py"]


def test_train_network_block_false_returns_a_running_handle(predict_project_copy, capsys):
    run = posekit.train_network(predict_project_copy, block=False)
    progress = run.wait(timeout=300)
    assert progress.state == "finished" and progress.step == 2 and not run.running
    assert capsys.readouterr().out == ""  # the background run reports through its widget
    again = posekit.train_network(predict_project_copy, block=True)
    assert "Nothing was trained" in capsys.readouterr().out and again.progress.step == 2


@pytest.mark.parametrize("verb", ["label_frames", "crop_editor"])
def test_interactive_verbs_return_views_not_widgets(verb, synthetic_copy):
    import ipywidgets

    view = getattr(posekit, verb)(synthetic_copy)
    assert not isinstance(view, ipywidgets.Widget) and view._built_widget is None
    assert isinstance(view.widget(), ipywidgets.Widget)
