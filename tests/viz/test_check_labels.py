"""check_labels: one drawn image per label row, markers at the labels, missing images reported."""

from __future__ import annotations

import numpy as np
import pytest

from posekit import check_labels
from posekit.io.images import read_image
from posekit.io.labels import LabelTable
from posekit.project import Project, edit_config
from posekit.viz.colors import bodypart_colors


def test_synthetic_markers_at_labels(synthetic_copy):
    edit_config(synthetic_copy, {"alphavalue": 1.0, "dotsize": 4})
    project = Project.open(synthetic_copy)
    stem = project.video_stems()[0]
    result = check_labels(project, Labels=".")[stem]
    table = LabelTable.read(project.labeled_folder(stem), bodyparts=project.bodyparts)
    assert result.folder == project.labeled_data_dir / f"{stem}_labeled"
    assert len(result.images) == len(table) == 8
    colors = bodypart_colors(project.cfg["colormap"], len(project.bodyparts))
    image_key = table.images[0]
    drawn = read_image(result.folder / image_key[-1].replace(".png", "_bodypart.png"))
    original = read_image(project.root.joinpath(*image_key))
    assert drawn.shape == original.shape and not np.array_equal(drawn, original)
    # the last-drawn part (tailtip) is on top: its color sits at its rounded label
    x, y = table.get_point(image_key, "tailtip")
    assert tuple(drawn[round(y), round(x)]) == tuple(colors[-1])


def test_missing_image_reported_not_dropped(synthetic_copy):
    project = Project.open(synthetic_copy)
    stem = project.video_stems()[0]
    images = project.frame_images(stem)
    images[0].unlink()
    with pytest.warns(UserWarning, match="missing on disk"):
        result = check_labels(project)[stem]
    assert result.missing_images == [f"labeled-data/{stem}/{images[0].name}"]
    assert len(result.images) == 7
    assert len(LabelTable.read(project.labeled_folder(stem))) == 8  # labels kept


def test_reaching_example(reaching_project):
    result = check_labels(reaching_project)["reachingvideo1"]
    assert len(result.images) == 55
    first = read_image(result.images[0])
    assert first.shape == (747, 832, 3)


def test_report_shows_as_gallery(synthetic_copy):
    from posekit.widgets.gallery import LabelGallery

    report = check_labels(synthetic_copy)
    gallery = report.widget()
    assert isinstance(gallery, LabelGallery) and report.widget() is gallery  # built once
    (stem, result), = gallery.results.items()
    assert report[stem] is result
    assert len(result.images) == 8 and gallery.images[stem] == result.images
