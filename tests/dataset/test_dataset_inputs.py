"""create_training_dataset on bad labels: each a clear error or warning, never silent (issue 14, section 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from posekit.dataset import create_training_dataset
from posekit.errors import LabelError
from posekit.io.labels import LabelTable
from posekit.project import Project, edit_config


def _labels(config) -> tuple[Project, str, LabelTable]:
    project = Project.open(config)
    stem = project.labeled_stems()[0]
    return project, stem, LabelTable.read(project.labeled_folder(stem), bodyparts=project.bodyparts,
                                          scorer=project.scorer)


def test_labels_outside_the_image_are_left_out_by_name(synthetic_copy):
    project, stem, table = _labels(synthetic_copy)
    image = table.images[0]
    part = project.bodyparts[1]
    table.set_point(image, part, (5000, -300))
    table.save(project.labeled_folder(stem))
    with pytest.warns(UserWarning, match=rf"1 label\(s\) lie outside their image and were left out: "
                                         rf"{'/'.join(image)}: {part} \(5000, -300\) outside"):
        report = create_training_dataset(synthetic_copy, seed=0)
    with Image.open(project.root.joinpath(*image)) as img:
        width, height = img.size
    assert report.outside_labels == [f"{'/'.join(image)}: {part} (5000, -300) outside {width}x{height}"]
    merged = pd.read_hdf(project.dataset_dir() / f"CollectedData_{project.scorer}.h5")
    row = merged.loc[image]
    assert np.isnan(row[(project.scorer, part, "x")]) and np.isnan(row[(project.scorer, part, "y")])
    assert not np.isnan(row[(project.scorer, project.bodyparts[0], "x")])  # the image's other parts stay


def test_scorer_differing_from_the_label_files_is_named(synthetic_copy):
    project = Project.open(synthetic_copy)
    labeller = project.scorer
    edit_config(synthetic_copy, {"scorer": "SomeoneElse"})
    with pytest.raises(LabelError, match=rf"scorer is 'SomeoneElse' but these labeled-data folders only hold "
                                         rf"labels of another scorer: .*\({labeller}\)"):
        create_training_dataset(synthetic_copy)


def test_too_few_labeled_frames_for_a_training_split(synthetic_copy):
    project, stem, table = _labels(synthetic_copy)
    for image in table.images[1:]:
        table.remove_image(image)
    table.save(project.labeled_folder(stem))
    for other in project.labeled_stems()[1:]:
        for suffix in (".h5", ".csv"):
            project.collected_data_path(other, suffix).unlink()
    with pytest.raises(ValueError, match=r"Only 1 labeled image\(s\): TrainingFraction 0\.95 puts none of them "
                                         r"in the training split of shuffle 1\. Label at least 2 frames"):
        create_training_dataset(synthetic_copy, seed=0)
    assert not project.split_path(0.95, 1).exists()
