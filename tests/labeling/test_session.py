"""LabelingSession without any widget: every action is checked on disk (h5 AND csv)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from posekit.errors import LabelError
from posekit.io.labels import LabelTable
from posekit.labeling import LabelingSession
from posekit.project import Project, edit_config
from tests.labeling.projects import (
    BODYPARTS,
    SCORER,
    STEM,
    disk_point,
    make_tiny_project,
    read_disk,
)


@pytest.fixture
def tiny(tmp_path):
    return make_tiny_project(tmp_path / "tiny")


@pytest.fixture
def session(tiny):
    return LabelingSession(tiny)


def folder_of(session):
    return session.project.labeled_folder(session.stem)


def test_opens_first_folder_without_writing(session):
    assert session.stem == STEM
    assert [k[2] for k in session.images] == ["img000.png", "img001.png", "img002.png"]
    assert session.bodypart == "snout" and session.index == 0
    assert session.image_size() == (160, 120)
    assert not any(folder_of(session).glob("CollectedData_*"))  # nothing until a change
    assert session.frame_completeness() == [(0, 4)] * 3


def test_place_labels_current_part_advances_and_autosaves(session):
    assert session.place((10.25, 20.5)) == "snout"
    assert session.bodypart == "leftear"
    folder = folder_of(session)
    assert disk_point(folder, "img000.png", "snout") == (10.25, 20.5)
    h5, csv = read_disk(folder)
    # only the labelled image has a row (an untouched frame is no all-NaN row)
    assert list(h5.index) == list(csv.index) == [("labeled-data", STEM, "img000.png")]
    assert h5.shape == csv.shape == (1, 2 * len(BODYPARTS))
    assert int(h5.notna().to_numpy().sum()) == 2
    assert list(h5.columns.get_level_values("bodyparts")[::2]) == BODYPARTS
    assert session.last_save_seconds is not None and session.last_save_seconds < 1.0
    assert not session.dirty

    session.place((159.5, 119.5))  # the far pixel edge is still on the image
    assert disk_point(folder, "img000.png", "leftear") == (159.5, 119.5)
    assert session.frame_completeness()[0] == (2, 4)


def test_place_never_skips_but_user_can(session):
    session.next_bodypart()  # leftear invisible: skip it
    session.next_bodypart()
    assert session.place((5.0, 6.0)) == "rightear"
    assert session.bodypart == "tailbase"
    session.place((7.0, 8.0))
    assert session.bodypart == "tailbase"  # stays on the last part
    session.select_bodypart(1)
    assert session.bodypart == "leftear"
    session.select_bodypart("snout")
    assert not session.previous_bodypart()
    assert math.isnan(disk_point(folder_of(session), "img000.png", "leftear")[0])


def test_move_and_remove_reach_disk(session):
    session.place((30.0, 40.0))
    session.place((50.0, 60.0))
    session.move("snout", (31.5, 42.25))
    folder = folder_of(session)
    assert disk_point(folder, "img000.png", "snout") == (31.5, 42.25)
    assert session.bodypart == "rightear"  # a move does not change the selection
    assert session.remove("leftear") is True
    x, y = disk_point(folder, "img000.png", "leftear")
    assert math.isnan(x) and math.isnan(y)
    assert session.remove("leftear") is False  # already unlabelled: nothing to do
    session.select_bodypart("snout")
    assert session.remove() is True  # default: the current part
    h5, _ = read_disk(folder)
    assert int(h5.notna().to_numpy().sum()) == 0


def test_undo_is_multi_level_and_saved(session):
    folder = folder_of(session)
    session.place((30.0, 40.0))  # 1 snout
    session.next_image()
    session.place((70.0, 80.0))  # 2 snout on img001
    session.move("snout", (71.0, 81.0))  # 3
    session.remove("snout")  # 4
    assert math.isnan(disk_point(folder, "img001.png", "snout")[0])

    change = session.undo()  # undo 4
    assert change.before == (71.0, 81.0) and change.after is None
    assert disk_point(folder, "img001.png", "snout") == (71.0, 81.0)
    session.undo()  # undo 3
    assert disk_point(folder, "img001.png", "snout") == (70.0, 80.0)
    session.undo()  # undo 2
    assert math.isnan(disk_point(folder, "img001.png", "snout")[0])
    session.previous_image()
    session.next_image()
    session.go_to(1)
    change = session.undo()  # undo 1: jumps back to img000, selects snout
    assert (session.index, session.bodypart) == (0, "snout")
    assert change.image == 0 and change.before is None
    assert math.isnan(disk_point(folder, "img000.png", "snout")[0])
    assert session.undo() is None and not session.can_undo


def test_undo_depth_is_bounded(tiny):
    session = LabelingSession(tiny, undo_depth=2)
    for x in (1.0, 2.0, 3.0):
        session.move("snout", (x, 1.0))
    session.undo()
    session.undo()
    assert session.undo() is None
    assert session.get_point("snout") == (1.0, 1.0)
    no_undo = LabelingSession(tiny, undo_depth=0)
    no_undo.remove("snout")
    assert no_undo.undo() is None and no_undo.get_point("snout") is None


def test_navigation_resets_part_to_first_unlabelled(session):
    session.place((1.0, 1.0))
    session.place((2.0, 2.0))
    assert session.next_image() and session.index == 1
    assert session.bodypart == "snout"
    session.go_to("img000.png")
    assert session.bodypart == "rightear"  # resume where labeling stopped
    assert not session.previous_image() and session.index == 0
    session.go_to(2)
    assert not session.next_image() and session.index == 2


def test_nearest_point(session):
    session.place((10.0, 10.0))
    session.place((14.0, 10.0))
    assert session.nearest_point((13.0, 10.5), radius=3) == "leftear"
    assert session.nearest_point((11.0, 10.0), radius=3) == "snout"
    assert session.nearest_point((50.0, 50.0), radius=3) is None
    assert session.nearest_point((10.0, 10.0), radius=3, index=1) is None


def test_change_events(session):
    events = []
    session.on_change(events.append)
    session.place((1.0, 2.0))
    session.next_image()
    session.select_bodypart("tailbase")
    assert events == ["points", "saved", "bodypart", "image", "bodypart"]
    session.on_change(events.append, remove=True)
    session.place((3.0, 3.0))
    assert len(events) == 5


def test_errors_are_clear(session, tiny, tmp_path):
    with pytest.raises(
        ValueError, match=r"outside img000.png \(160x120\).*x must be in \[-0.5, 159.5\]"
    ):
        session.place((160.0, 5.0))
    with pytest.raises(ValueError, match="outside"):
        session.move("snout", (3.0, -0.6))
    with pytest.raises(ValueError, match="not finite"):
        session.place((float("nan"), 3.0))
    with pytest.raises(ValueError, match="two numbers"):
        session.place((1.0,))
    with pytest.raises(
        LabelError, match=r"unknown bodypart 'tail'.*\['snout', 'leftear', 'rightear', 'tailbase'\]"
    ):
        session.select_bodypart("tail")
    with pytest.raises(LabelError, match="unknown bodypart 9"):
        session.move(9, (1.0, 1.0))
    with pytest.raises(IndexError, match=r"out of range.*3 images"):
        session.go_to(3)
    with pytest.raises(IndexError, match="no image named"):
        session.go_to("img999.png")
    with pytest.raises(FileNotFoundError, match="No labeled-data folder"):
        LabelingSession(tiny, stem="nope")
    assert not any(folder_of(session).glob("CollectedData_*"))  # failed calls wrote nothing
    empty = make_tiny_project(tmp_path / "empty", n_images=0)
    (empty.parent / "labeled-data" / STEM).mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="extract_frames"):
        LabelingSession(empty)


def test_autosave_off_needs_save_or_close(tiny):
    with LabelingSession(tiny, autosave=False) as session:
        session.place((5.0, 5.0))
        assert session.dirty
        assert not any(folder_of(session).glob("CollectedData_*"))
    assert disk_point(folder_of(session), "img000.png", "snout") == (5.0, 5.0)


def test_new_bodypart_in_config_is_an_unlabelled_column(reaching_project):
    project = Project.open(reaching_project)
    folder = project.labeled_folder("reachingvideo1")
    before = LabelTable.read(folder, bodyparts=project.bodyparts, scorer=project.scorer)
    edit_config(reaching_project, {"bodyparts": [*project.bodyparts, "Elbow"]})

    session = LabelingSession(reaching_project)
    assert session.bodyparts[-1] == "Elbow"
    assert session.images == before.images  # 55 frames, all already in CollectedData
    assert all(np.isnan(session.points(i)[-1]).all() for i in range(len(session.images)))
    session.go_to("img020.png")
    session.select_bodypart("Elbow")
    session.place((400.5, 300.25))

    h5, csv = read_disk(folder, "Mackenzie")
    assert list(h5.columns.get_level_values("bodyparts")[::2]) == [*project.bodyparts, "Elbow"]
    assert disk_point(folder, "img020.png", "Elbow", "Mackenzie") == (400.5, 300.25)
    elbow = h5.xs("Elbow", axis=1, level="bodyparts")
    assert int(elbow.notna().to_numpy().sum()) == 2  # only the new label
    old = before.to_dataframe()
    assert list(h5.index) == list(csv.index) == list(old.index)
    # old labels untouched, bit for bit in the h5
    np.testing.assert_array_equal(h5[old.columns].to_numpy(), old.to_numpy())
    np.testing.assert_allclose(csv[old.columns].to_numpy(), old.to_numpy(), rtol=0, atol=1e-9)


def test_first_save_keeps_every_other_label(reaching_project):
    session = LabelingSession(reaching_project)
    folder = folder_of(session)
    original = pd.read_hdf(folder / "CollectedData_Mackenzie.h5")
    session.move("Hand", (10.0, 11.0))
    saved = pd.read_hdf(folder / "CollectedData_Mackenzie.h5")
    changed = saved.to_numpy() != original.to_numpy()
    changed &= ~(np.isnan(saved.to_numpy()) & np.isnan(original.to_numpy()))
    assert int(changed.sum()) == 2  # Hand x and y of img005 only
    assert tuple(saved.iloc[0][[("Mackenzie", "Hand", "x"), ("Mackenzie", "Hand", "y")]]) == (
        10.0,
        11.0,
    )
    # same rows (the old 'labeled-data/<stem>/<img>' strings become DLC >= 2.2 tuples)
    assert ["/".join(key) for key in saved.index] == list(original.index)
    assert list(saved.columns) == list(original.columns)


def test_images_listed_in_collected_data_are_included(tiny):
    project = Project.open(tiny)
    folder = project.labeled_folder(STEM)
    (folder / "img001.png").rename(folder / "extra.png")  # not an img*.png name
    table = LabelTable.empty(SCORER, BODYPARTS)
    table.set_point(("labeled-data", STEM, "extra.png"), "snout", (3.0, 4.0))
    table.save(folder)
    session = LabelingSession(tiny)
    assert [k[2] for k in session.images] == ["img000.png", "img002.png", "extra.png"]
    session.go_to("extra.png")
    assert session.get_point("snout") == (3.0, 4.0)
    assert session.bodypart == "leftear"
