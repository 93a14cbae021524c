"""RefinementSession headless: machine labels shown, human labels win, every change on disk."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.errors import LabelError
from posekit.io.labels import LabelTable
from posekit.project import Project, edit_config
from posekit.refine import MachineLabels, RefinementSession, machinelabels_path
from tests.labeling.projects import BODYPARTS, SCORER, STEM
from tests.refine.conftest import NET, PREDICTIONS, disk_point, folder_of, key


def test_predictions_shown_with_likelihoods_and_parked_points(tiny):
    s = RefinementSession(tiny)
    assert s.stem == STEM and [k[2] for k in s.images] == ["img000.png", "img001.png", "img002.png"]
    assert s.index == 0 and s.unrefined() == [0, 1, 2] and s.threshold == 0.6  # pcutoff
    np.testing.assert_array_equal(s.points(), PREDICTIONS[0, :, :2])
    np.testing.assert_allclose(s.likelihoods(), [0.95, 0.3, 0.9, 0.99])
    assert s.uncertain().tolist() == [False, True, False, False]
    s.threshold = 0.96
    assert s.uncertain().tolist() == [True, True, True, False]
    # img001's rightear (x = 400) lies outside the image: parked at corner2move2
    assert s.parked(1).tolist() == [False, False, True, False]
    assert s.get_point("rightear", 1) == (50.0, 50.0)
    assert not (folder_of(tiny) / f"CollectedData_{SCORER}.h5").exists()  # nothing written yet
    edit_config(tiny, {"move2corner": False})
    assert RefinementSession(tiny).get_point("rightear", 1) is None  # hidden instead


def test_drag_promotes_the_frame_and_leaves_other_labels_alone(tiny):
    folder = folder_of(tiny)
    human = LabelTable.empty(SCORER, BODYPARTS)
    human.set_point(key(2), "snout", (11.0, 12.0))  # an older human label of img002
    human.set_point(("labeled-data", STEM, "img999.png"), "snout", (1.0, 2.0))  # not in machinelabels
    human.save(folder)
    s = RefinementSession(tiny)
    assert s.is_refined(2) and not s.is_refined(0)
    # human labels win over predictions, whole row (NaN = occluded included)
    assert s.get_point("snout", 2) == (11.0, 12.0) and s.get_point("leftear", 2) is None
    assert np.isnan(s.likelihoods(2)).all() and not s.uncertain(2).any()
    s.move("leftear", (44.5, 33.25))  # the drag of the widget
    assert disk_point(folder, "img000.png", "leftear") == (44.5, 33.25)
    for j, part in enumerate(BODYPARTS):
        if part != "leftear":  # not moved: the prediction, now approved
            assert disk_point(folder, "img000.png", part) == tuple(PREDICTIONS[0, j, :2])
    assert disk_point(folder, "img002.png", "snout") == (11.0, 12.0)
    assert disk_point(folder, "img999.png", "snout") == (1.0, 2.0)
    assert s.is_refined(0) and np.isnan(s.likelihoods(0)[1]) and s.likelihoods(0)[0] == 0.95
    # delete = occluded
    assert s.remove("snout")
    assert disk_point(folder, "img000.png", "snout") is None
    s.undo()
    assert disk_point(folder, "img000.png", "snout") == (20.0, 30.0)
    # the machinelabels file is never edited
    assert MachineLabels.read(machinelabels_path(Project.open(tiny), STEM)).rows[key(0)][1, 0] == 40.0


def test_accept_parks_out_of_image_points_as_missing_and_undo_reparks(tiny):
    folder = folder_of(tiny)
    s = RefinementSession(tiny)
    s.go_to(1)
    assert s.accept() and not s.accept()
    assert disk_point(folder, "img001.png", "snout") == (25.0, 35.0)
    assert disk_point(folder, "img001.png", "rightear") is None  # parked, not a label
    assert s.get_point("rightear") == (50.0, 50.0) and s.parked().tolist()[2]
    s.move("rightear", (70.0, 36.0))  # dragged into place
    assert disk_point(folder, "img001.png", "rightear") == (70.0, 36.0) and not s.parked().any()
    s.undo()
    assert disk_point(folder, "img001.png", "rightear") is None and s.parked().tolist()[2]
    assert s.next_unrefined() and s.index == 2


def test_resume_another_day_starts_at_the_first_unrefined_frame(tiny):
    s = RefinementSession(tiny)
    s.accept()
    s.go_to(2)
    s.move("tailbase", (100.0, 100.0))
    again = RefinementSession(tiny)
    assert again.unrefined() == [1] and again.index == 1
    assert again.get_point("tailbase", 2) == (100.0, 100.0)
    assert again.get_point("snout", 0) == (20.0, 30.0)


def test_remove_image_deletes_file_and_both_rows(tiny):
    folder = folder_of(tiny)
    s = RefinementSession(tiny)
    s.move("snout", (21.0, 31.0))  # img000 refined
    s.go_to(2)
    s.move("snout", (31.0, 41.0))  # img002 refined
    s.go_to(0)
    removed = s.remove_image()
    assert removed.name == "img000.png" and not removed.exists()
    assert [k[2] for k in s.images] == ["img001.png", "img002.png"] and s.index == 0
    assert disk_point(folder, "img000.png", "snout") is None
    table = LabelTable.read(folder, scorer=SCORER)
    assert key(0) not in table.images and key(2) in table.images
    machine = MachineLabels.read(machinelabels_path(Project.open(tiny), STEM))
    assert machine.images == [key(1), key(2)]
    # undo still reaches img002 (now index 1), not another image
    change = s.undo()
    assert change.image == 1 and s.image_name == "img002.png"
    assert disk_point(folder, "img002.png", "snout") == (30.0, 40.0)


def test_missing_machine_labels_say_what_to_run(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"iteration 3.*extract_outlier_frames.*iteration\(s\) \[0\]"):
        edit_config(tiny, {"iteration": 3})
        RefinementSession(tiny, STEM)
    with pytest.raises(FileNotFoundError, match="extract_outlier_frames"):
        RefinementSession(tiny)


def test_reads_deeplabcut_machinelabels_with_a_string_index(tiny):
    import pandas as pd

    project = Project.open(tiny)
    columns = pd.MultiIndex.from_product([[NET], BODYPARTS, ["x", "y", "likelihood"]],
                                         names=["scorer", "bodyparts", "coords"])
    index = [f"labeled-data/{STEM}/img00{i}.png" for i in range(3)]  # DLC <= 2.2.0.3 rows
    frame = pd.DataFrame(PREDICTIONS.reshape(3, -1), index=index, columns=columns)
    frame.to_hdf(machinelabels_path(project, STEM), key="df_with_missing", mode="w")
    machine = MachineLabels.read(machinelabels_path(project, STEM))
    assert machine.scorer == NET and machine.images == [key(0), key(1), key(2)]
    np.testing.assert_array_equal(machine.rows[key(1)], PREDICTIONS[1])
    assert RefinementSession(tiny).get_point("snout", 2) == (30.0, 40.0)
    other = MachineLabels(NET, ["snout"], {key(0): PREDICTIONS[0, :1]})
    with pytest.raises(LabelError, match="Cannot merge machine labels of body parts"):
        machine.merge(other)


# -- two sessions on one folder (issue 14, section 3) ------------------------------ #
def test_refinement_merges_frames_another_session_saved_and_never_overwrites_a_human_label(tiny):
    from posekit.io.labels import LabelConflictError
    from posekit.labeling import LabelingSession

    folder = folder_of(tiny)
    refiner, other = RefinementSession(tiny), RefinementSession(tiny)
    refiner.accept(0)
    events: list[str] = []
    other.on_change(events.append)
    other.accept(1)  # img000 accepted elsewhere meanwhile: merged, not dropped
    assert events[:3] == ["points", "merged", "saved"]
    assert other.is_refined(0) and other.unrefined() == [2]
    assert disk_point(folder, "img000.png", "snout") == tuple(PREDICTIONS[0, 0, :2])
    assert disk_point(folder, "img001.png", "snout") == tuple(PREDICTIONS[1, 0, :2])
    # a person labels img002's snout by hand while the refiner still shows the prediction
    labeler = LabelingSession(tiny)
    labeler.go_to("img002.png")
    labeler.move("snout", (11.0, 12.0))
    refiner.go_to(2)
    with pytest.raises(LabelConflictError, match=r"snout of labeled-data/mouse1/img002\.png.*NOT saved"):
        refiner.move("leftear", (44.0, 33.0))
    assert disk_point(folder, "img002.png", "snout") == (11.0, 12.0)
    assert disk_point(folder, "img002.png", "leftear") is None
    # deleting a frame another session relabelled is refused too, and the frame stays
    other.go_to(0)
    labeler.go_to(0)
    labeler.move("snout", (1.0, 1.0))
    with pytest.raises(LabelConflictError, match=r"img000\.png removed here but relabelled there"):
        other.remove_image(0)
    assert (folder / "img000.png").is_file() and other.is_refined(0) and other.points(0)[0, 0] == 20.0
    refiner.reload()  # shows what is on disk: img002 is now refined with the human snout
    assert refiner.is_refined(2) and refiner.get_point("snout", 2) == (11.0, 12.0)
    assert not refiner.dirty
