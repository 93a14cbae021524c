"""merge_datasets: a refusal is visible wherever the call sits; nothing new means no new iteration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posekit.io.labels import LabelTable
from posekit.project import Project
from posekit.refine import merge_datasets
from posekit.refine.merge import MergeRefusedWarning
from tests.labeling.projects import BODYPARTS, SCORER, STEM, make_tiny_project


def _label(config, image: str, xy=(10.0, 20.0)) -> None:
    folder = Project.open(config).labeled_folder(STEM)
    path = folder / f"CollectedData_{SCORER}.h5"
    table = LabelTable.read(folder) if path.exists() else LabelTable.empty(SCORER, BODYPARTS)
    table.set_point(("labeled-data", STEM, image), "snout", xy)
    table.save(folder)


@pytest.fixture
def config(tmp_path):
    path = make_tiny_project(tmp_path / "proj")
    _label(path, "img000.png")
    return path


def test_refusal_is_a_warning_not_only_the_returned_html(tmp_path):
    config = make_tiny_project(tmp_path / "proj")  # images, but no CollectedData
    with pytest.warns(MergeRefusedWarning, match=r"(?s)Not merged.*has no CollectedData_tester"):
        report = merge_datasets(config)
    assert not report.merged
    # Every refusal shows, not only the first one per call site (Python's "default" filter
    # action): a fresh interpreter, as a kernel has, without pytest's warning capture.
    script = (
        "from posekit.refine import merge_datasets\n"
        f"for _ in range(2):\n    merge_datasets({str(config)!r})\n"  # one line, as a re-run cell
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("MergeRefusedWarning: Not merged") == 2, done.stderr


def test_nothing_new_since_last_merge_keeps_iteration(config):
    assert merge_datasets(config).iteration == 1
    with pytest.warns(MergeRefusedWarning, match="Nothing new since the last merge") as record:
        report = merge_datasets(config)
    assert "forceiterate" in str(record[0].message)
    assert not report.merged and Project.open(config).iteration == 1
    # a new label is something new
    _label(config, "img001.png")
    assert merge_datasets(config).iteration == 2
    # a moved label too
    _label(config, "img001.png", (30.0, 40.0))
    assert merge_datasets(config).iteration == 3


def test_forceiterate_merges_even_with_nothing_new(config):
    merge_datasets(config)
    report = merge_datasets(config, forceiterate=7)
    assert report.merged and Project.open(config).iteration == 7


def test_iteration_edited_by_hand_is_not_nothing_new(config):
    from posekit.project import edit_config

    merge_datasets(config)
    edit_config(config, {"iteration": 0})  # the user went back: the record is stale
    assert merge_datasets(config).iteration == 1
