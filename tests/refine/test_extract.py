"""extract_outlier_frames on the synthetic project: candidates, images, machine labels on disk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit import extract_outlier_frames
from posekit.io.images import read_image
from posekit.predict.predictor import snapshot_scorer
from posekit.project import Project
from posekit.refine import MachineLabels, find_outliers
from posekit.refine.machinelabels import machinelabels_path
from tests.refine.conftest import GLITCHES, LOW, make_poses, write_analysis


@pytest.fixture
def video(project):
    return Project.open(project).video_path("synthetic")


def test_snapshot_scorer_is_the_predictors(trained_config):
    from posekit.predict.predictor import load_predictor

    assert snapshot_scorer(trained_config) == load_predictor(trained_config).scorer


def test_each_detector_finds_the_planted_frames(project, video):
    found = {
        algorithm: find_outliers(project, [video], outlieralgorithm=algorithm)[0].candidates.tolist()
        for algorithm in ("uncertain", "jump")
    }
    assert found["uncertain"] == list(LOW)
    assert found["jump"] == sorted([*GLITCHES, *(g + 1 for g in GLITCHES)])
    (fit,) = find_outliers(project, [video], outlieralgorithm="fitting", comparisonbodyparts=["spine"])
    assert set(GLITCHES) <= set(fit.candidates.tolist()) and fit.compared == ["spine"]


def test_start_stop_and_already_extracted(project, video):
    from posekit.project import edit_config

    edit_config(project, {"start": 0.5, "stop": 1})  # frames 60..119
    (search,) = find_outliers(project, [video], outlieralgorithm="jump")
    assert search.first == 60 and search.candidates.tolist() == [87, 88]
    (listed,) = find_outliers(project, [video], outlieralgorithm="list", frames2use=[18, 40, 40])
    assert listed.candidates.tolist() == [18, 40] and listed.already_extracted == [18]
    assert listed.new_candidates.tolist() == [40]


def test_automatic_extraction_writes_images_and_machine_labels(project, video):
    proj = Project.open(project)
    folder = proj.labeled_folder("synthetic")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    results = extract_outlier_frames(project, [video], outlieralgorithm="jump", automatic=True,
                                     extractionalgorithm="kmeans", seed=0, savelabeled=True).results
    result = results["synthetic"]
    expected = sorted([*GLITCHES, *(g + 1 for g in GLITCHES)])  # 4 <= numframes2pick: all
    assert result.picked == expected and not result.added_video
    assert [p.name for p in result.written] == [f"img{i:03d}.png" for i in expected]
    assert [p.name for p in result.labeled] == [f"img{i:03d}labeled.png" for i in expected]
    # the saved image is the video frame
    from posekit.io.video import VideoReader

    with VideoReader(video) as reader:
        np.testing.assert_array_equal(read_image(result.written[0]), reader.read(expected[0]))
    # nothing that was there changed
    for name, data in before.items():
        assert (folder / name).read_bytes() == data
    # machine labels: DLC layout, the predictions of those frames
    h5 = machinelabels_path(proj, "synthetic")
    assert h5 == result.machinelabels and h5.name == "machinelabels-iter0.h5"
    df = pd.read_hdf(h5)  # one object, DLC reads without a key
    with pd.HDFStore(h5, "r") as store:
        assert store.keys() == ["/df_with_missing"]
    scorer = snapshot_scorer(project)
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert set(df.columns.get_level_values(0)) == {scorer}
    assert list(df.columns.get_level_values(2)[:3]) == ["x", "y", "likelihood"]
    assert list(df.index) == [("labeled-data", "synthetic", f"img{i:03d}.png") for i in expected]
    np.testing.assert_allclose(df.to_numpy().reshape(len(df), 7, 3), make_poses()[expected])
    csv = pd.read_csv(folder / "machinelabels.csv", header=[0, 1, 2], index_col=[0, 1, 2])
    np.testing.assert_allclose(csv.to_numpy(), df.to_numpy())
    # a second run (uncertain) merges: old rows first and kept, new rows added
    extract_outlier_frames(project, [video], outlieralgorithm="uncertain", automatic=True,
                           extractionalgorithm="uniform", seed=0)
    merged = MachineLabels.read(h5)
    assert [int(k[2][3:6]) for k in merged.images] == sorted([*expected, *LOW])


def test_crop_offset_from_metadata_is_added(project, video):
    scorer = snapshot_scorer(project)
    poses = make_poses()
    cropped = poses.copy()
    cropped[:, :, 0] -= 10
    cropped[:, :, 1] -= 20
    write_analysis(video, scorer, cropped, Project.open(project).bodyparts, cropping=(10, 300, 20, 230))
    result = extract_outlier_frames(project, [video], outlieralgorithm="list", frames2use=[40],
                                    automatic=True).results["synthetic"]
    machine = MachineLabels.read(result.machinelabels)
    np.testing.assert_allclose(machine.rows[("labeled-data", "synthetic", "img040.png")], poses[40])


def test_new_video_is_added_to_the_project(project, tmp_path):
    from posekit.datasets import make_synthetic_video

    other = tmp_path / "second.mp4"
    make_synthetic_video(other, n_frames=40, seed=3)
    poses = make_poses(40)
    write_analysis(other, snapshot_scorer(project), poses, Project.open(project).bodyparts)
    result = extract_outlier_frames(project, other, outlieralgorithm="jump", automatic=True,
                                    extractionalgorithm="uniform", seed=1).results["second"]
    proj = Project.open(project)
    assert result.added_video and "second" in proj.video_stems()
    assert result.picked == [33, 34]  # the glitch at 33 (87 is beyond 40 frames)
    assert [p.name for p in proj.frame_images("second")] == ["img33.png", "img34.png"]
    machine = MachineLabels.read(machinelabels_path(proj, "second"))
    np.testing.assert_allclose(machine.rows[("labeled-data", "second", "img33.png")], poses[33])


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_prompt_on_a_terminal_and_manual_grabber(project, video, monkeypatch, capsys):
    answers = iter(["no", "yes"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    monkeypatch.setattr("sys.stdin", _Terminal())
    assert extract_outlier_frames(project, [video], outlieralgorithm="uncertain").results == {}
    assert "5 outlier frame(s)" in capsys.readouterr().out
    done = extract_outlier_frames(project, [video], outlieralgorithm="uncertain", seed=0)
    assert done.results["synthetic"].picked == list(LOW)
    from posekit.widgets.grabber import FrameGrabberWidget

    grabbing = extract_outlier_frames(project, [video], outlieralgorithm="manual")
    assert grabbing.grabber.stem == "synthetic"
    assert isinstance(grabbing.widget(), FrameGrabberWidget)
    grabbing.widget().close()


def test_without_a_terminal_nothing_is_extracted_until_asked(project, video, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked in a script without a terminal"))
    report = extract_outlier_frames(project, [video], outlieralgorithm="uncertain", seed=0)
    assert report.results == {}
    assert not machinelabels_path(Project.open(project), "synthetic").exists()
    assert report.extract()["synthetic"].picked == list(LOW)


def test_errors_name_the_valid_choices_and_write_nothing(project, video):
    folder = Project.open(project).labeled_folder("synthetic")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(ValueError, match=r"'jumpy' is not known.*'jump'.*'manual'.*'list'"):
        extract_outlier_frames(project, [video], outlieralgorithm="jumpy", automatic=True)
    with pytest.raises(ValueError, match=r"\['nose'\] not among the network's body parts.*'snout'"):
        extract_outlier_frames(project, [video], comparisonbodyparts=["nose"], automatic=True)
    with pytest.raises(ValueError, match=r"extractionalgorithm='random'.*'kmeans', 'uniform'"):
        extract_outlier_frames(project, [video], extractionalgorithm="random", automatic=True)
    with pytest.raises(ValueError, match="frames2use"):
        extract_outlier_frames(project, [video], outlieralgorithm="list", automatic=True)
    assert sorted(p.name for p in folder.iterdir()) == before
    video.with_name(f"synthetic{snapshot_scorer(project)}.h5").unlink()
    with pytest.raises(FileNotFoundError, match="analyze_videos"):
        extract_outlier_frames(project, [video], automatic=True)


def test_notebook_widget_confirms_before_extracting(project, video):
    from posekit.widgets.outliers import OutlierWidget

    folder = Project.open(project).labeled_folder("synthetic")
    report = extract_outlier_frames(project, [video], outlieralgorithm="jump", seed=0)
    widget = report.widget()
    assert isinstance(widget, OutlierWidget) and widget.results == {} == report.results
    assert not machinelabels_path(Project.open(project), "synthetic").exists()  # nothing yet
    images = [c for c in widget.children if c.__class__.__name__ == "Image"]
    assert len(images) == 1 and images[0].value[:4] == b"\x89PNG"
    assert "jump" in widget.children[0].value and ">4</" in widget.children[0].value
    widget.extract_button._handle_custom_msg({"event": "click"}, [])  # what the browser sends
    assert widget.results["synthetic"].picked == sorted([*GLITCHES, *(g + 1 for g in GLITCHES)])
    assert report.results["synthetic"] is widget.results["synthetic"]
    assert (folder / "img033.png").is_file() and "refine_labels" in widget.status.value
    assert widget.extract_button.disabled
    cancelled = extract_outlier_frames(project, [video], outlieralgorithm="uncertain").widget()
    cancelled.cancel_button.click()
    assert cancelled.results == {} and "nothing was extracted" in cancelled.status.value
    assert not (folder / f"img0{LOW[0]}.png").exists()


def test_config_cropping_crops_images_and_shifts_machine_labels(project, video):
    proj = Project.open(project)
    proj.cfg["cropping"] = True
    (key,) = proj.cfg["video_sets"]
    proj.cfg["video_sets"][key]["crop"] = "10, 300, 20, 230"
    proj.save_config()
    result = extract_outlier_frames(project, [video], outlieralgorithm="list", frames2use=[40],
                                    automatic=True).results["synthetic"]
    image = read_image(result.written[0])
    assert image.shape == (210, 290, 3)
    from posekit.io.video import VideoReader

    with VideoReader(video) as reader:
        np.testing.assert_array_equal(image, reader.read(40)[20:230, 10:300])
    machine = MachineLabels.read(result.machinelabels)
    expected = make_poses()[40]
    expected[:, :2] -= (10, 20)
    np.testing.assert_allclose(machine.rows[("labeled-data", "synthetic", "img040.png")], expected)
