"""Two labeling sessions on one folder: neither ever drops what the other saved (issue 14, section 3).

The sessions are the headless objects the widgets drive; every check reads the
files on disk (h5 and csv agree, through ``disk_point``).
"""

from __future__ import annotations

import math

import pytest

from posekit.io.labels import LabelConflictError
from posekit.labeling import LabelingSession
from posekit.project import edit_config
from tests.labeling.projects import BODYPARTS, disk_point, make_tiny_project


def unlabelled_on_disk(folder, image: str, bodypart: str) -> bool:
    return all(math.isnan(v) for v in disk_point(folder, image, bodypart))


@pytest.fixture
def tiny(tmp_path):
    return make_tiny_project(tmp_path / "tiny")


def test_issue_reproduction_old_view_never_drops_a_new_bodypart(tiny):
    old = LabelingSession(tiny)  # 1. open label_frames on a folder
    edit_config(tiny, {"bodyparts": [*BODYPARTS, "tail"]})  # 2. add a body part
    new = LabelingSession(tiny)  # 3. open it again and label the new part
    new.select_bodypart("tail")
    new.place((30.0, 40.0))
    folder = new.folder
    with pytest.raises(LabelConflictError, match=r"bodyparts \['tail'\].*NOT saved.*[Rr]eload"):
        old.place((10.0, 20.0))  # 4. click in the old view
    assert disk_point(folder, "img000.png", "tail") == (30.0, 40.0)
    assert unlabelled_on_disk(folder, "img000.png", "snout")  # refused, not written
    assert old.dirty  # the refused change is kept in memory, shown as unsaved
    events: list[str] = []
    old.on_change(events.append)
    old.reload()
    assert events == ["reloaded"] and not old.dirty and not old.can_undo
    assert old.bodyparts == [*BODYPARTS, "tail"]
    assert old.get_point("tail") == (30.0, 40.0) and old.get_point("snout") is None
    old.select_bodypart("snout")
    old.place((10.0, 20.0))  # redone after the reload: both labels on disk
    assert disk_point(folder, "img000.png", "snout") == (10.0, 20.0)
    assert disk_point(folder, "img000.png", "tail") == (30.0, 40.0)


def test_labels_of_other_points_are_merged_in(tiny):
    first, second = LabelingSession(tiny), LabelingSession(tiny)  # no CollectedData yet
    first.place((1.0, 2.0))  # img000 snout
    second.go_to(1)
    events: list[str] = []
    second.on_change(events.append)
    second.place((3.0, 4.0))  # img001 snout: merged with first's, not replacing it
    assert events == ["points", "merged", "saved", "bodypart"]
    folder = first.folder
    assert disk_point(folder, "img000.png", "snout") == (1.0, 2.0)
    assert disk_point(folder, "img001.png", "snout") == (3.0, 4.0)
    assert second.get_point("snout", 0) == (1.0, 2.0)  # its view shows the merged label
    assert [(key[2], part) for key, part in second.last_merge.points] == [("img000.png", "snout")]
    # and first merges second's label on its next change
    first.move("leftear", (5.0, 6.0))
    assert disk_point(folder, "img001.png", "snout") == (3.0, 4.0)
    assert disk_point(folder, "img000.png", "leftear") == (5.0, 6.0)


def test_the_same_point_changed_by_both_is_refused(tiny):
    first = LabelingSession(tiny)
    first.place((1.0, 2.0))  # img000 snout
    second = LabelingSession(tiny)
    second.move("snout", (50.0, 60.0))
    folder = first.folder
    with pytest.raises(LabelConflictError, match=r"snout of labeled-data/mouse1/img000\.png"):
        first.move("snout", (7.0, 8.0))
    assert disk_point(folder, "img000.png", "snout") == (50.0, 60.0)
    first.reload()
    assert first.get_point("snout") == (50.0, 60.0) and not first.dirty


def test_undo_after_a_merge_skips_points_the_other_session_changed(tiny):
    first = LabelingSession(tiny)
    first.place((1.0, 2.0))  # img000 snout, on first's undo stack
    second = LabelingSession(tiny)
    second.move("snout", (50.0, 60.0))  # second changes that very point
    first.move("leftear", (5.0, 6.0))  # merge: snout came from disk
    assert first.get_point("snout") == (50.0, 60.0)
    assert first.undo().bodypart == "leftear"
    assert first.undo() is None  # its snout entry would put back over second's label
    assert disk_point(first.folder, "img000.png", "snout") == (50.0, 60.0)


def test_manual_save_and_close_merge_too(tiny):
    first = LabelingSession(tiny, autosave=False)
    second = LabelingSession(tiny)
    first.place((1.0, 2.0))
    first.go_to(1)
    first.place((3.0, 4.0))
    second.go_to(2)
    second.place((5.0, 6.0))
    first.close()  # saves both pending changes on top of second's
    folder = first.folder
    assert disk_point(folder, "img000.png", "snout") == (1.0, 2.0)
    assert disk_point(folder, "img001.png", "snout") == (3.0, 4.0)
    assert disk_point(folder, "img002.png", "snout") == (5.0, 6.0)
