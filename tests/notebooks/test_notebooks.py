"""Both notebooks run top to bottom in a real kernel, with small budgets from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from tests.notebooks.budgets import SMALL  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

#: Stand-in for the human at the labeling canvas: label every extracted frame with
#: the synthetic video's true keypoints, through the same LabelTable the canvas uses.
LABEL_LIKE_A_HUMAN = """
from posekit.datasets import synthetic_keypoints
from posekit.io.labels import LabelTable
from posekit.project import Project, frame_index_from_name
_p = Project.open(config)
_truth = synthetic_keypoints(120)
for _stem in _p.video_stems():
    _t = LabelTable.empty(_p.scorer, _p.bodyparts)
    for _img in _p.frame_images(_stem):
        for _part, _xy in zip(_p.bodyparts, _truth[frame_index_from_name(_img.name)]):
            _t.set_point(("labeled-data", _stem, _img.name), _part, tuple(_xy))
    _t.save(_p.labeled_folder(_stem))
"""


def _run(nb, env: dict[str, str], cwd: Path, after: dict[str, str] | None = None) -> None:
    """Execute ``nb`` cell by cell; ``after[marker]`` runs after the cell containing marker."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                         resources={"metadata": {"path": str(cwd)}})
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                client.execute_cell(cell, index)
                for marker, source in (after or {}).items():
                    if marker in cell.source:
                        extra = nbformat.v4.new_code_cell(source)
                        client.execute_cell(extra, index)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors


def test_demo_reaching_runs(reaching_source, tmp_path):
    nb = nbformat.read(NOTEBOOKS / "Demo_Reaching.ipynb", as_version=4)
    env = {**SMALL, "POSEKIT_DEMO_DIR": str(tmp_path), "POSEKIT_REACHING_DIR": str(reaching_source),
           "POSEKIT_CACHE": str(tmp_path / "cache")}
    _run(nb, env, tmp_path)
    project = tmp_path / "Reaching-Mackenzie-2018-08-30"
    assert list((project / "videos").glob("reachingdemo*_labeled.mp4"))
    assert (project / "evaluation-results" / "iteration-0" / "CombinedEvaluation-results.csv").is_file()
    assert list((project / "labeled-data" / "reachingdemo").glob("machinelabels-iter0.h5"))


#: Hidden cells the test runs after the user's cells of run_yourowndata.ipynb (marker -> code), so the
#: notebook itself holds no demo switches: the test's videos and body parts, a training budget of
#: seconds, and the wait a user does by watching the widget until it says "finished".
OWN_DATA_BUDGET = """
import posekit as _posekit
_train_network = _posekit.train_network


def _seconds_of_training(config, **kwargs):
    kwargs.update(maxiters=2, saveiters=2, displayiters=1, pretrained=False, crop_size=(64, 64))
    return _train_network(config, **kwargs)


_posekit.train_network = _seconds_of_training
"""
OWN_BODYPARTS = """posekit.edit_config(config, {
    "bodyparts": ["snout", "leftear", "rightear", "neck", "spine", "tailbase", "tailtip"], "skeleton": []})"""


def test_run_yourowndata_runs(tmp_path):
    from posekit.datasets import make_synthetic_video

    videos = tmp_path / "myvideos"
    videos.mkdir()
    make_synthetic_video(videos / "mouse.mp4", n_frames=120)
    nb = nbformat.read(NOTEBOOKS / "run_yourowndata.ipynb", as_version=4)
    user_code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "os.environ" not in user_code and "POSEKIT_" not in user_code  # no demo switches in sight
    assert ".wait()" not in user_code  # training never blocks the kernel in the user's path
    _run(nb, {"JAX_PLATFORMS": "cpu"}, tmp_path, after={
        "posekit.check_install()": OWN_DATA_BUDGET,
        'VIDEOS = ["/path/to/your/videos"]': f"VIDEOS = [{str(videos)!r}]",
        '"bodyparts": [': OWN_BODYPARTS,
        "posekit.label_frames(config)": LABEL_LIKE_A_HUMAN,
        "posekit.train_network(": "training.wait()",  # the user watches the widget instead
        "posekit.extract_outlier_frames(": "outliers.widget().run_extraction()",  # the Extract click in its widget
    })
    (project,) = tmp_path.glob("MyTask-me-*")
    assert list(videos.glob("mouseDLC_*_labeled.mp4"))  # results sit beside the video, as in DLC
    assert list((project / "labeled-data" / "mouse").glob("machinelabels-iter0.h5"))
    # nobody refined the machine labels, so merge_datasets keeps the iteration (DLC semantics)
    assert "iteration: 0" in (project / "config.yaml").read_text()
    merge_output = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "MergeRefusedWarning" in merge_output and "not refined yet" in merge_output
