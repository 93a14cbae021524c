"""analyze_time_lapse_frames: DeepLabCut's file name and layout, images of several sizes, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posekit.io.images import read_image, write_png
from posekit.io.video import VideoReader
from posekit.predict.predictor import load_predictor
from posekit.predict.results import pose_columns
from posekit.predict.time_lapse import analyze_time_lapse_frames
from posekit.project import Project
from posekit.project.config import edit_config

# (frame index in the project video, name, (y1, y2, x1, x2) of the part kept): two sizes
FRAMES = [(0, "t03.png", None), (30, "t01.png", (20, 180, 40, 280)), (60, "t02.png", None),
          (90, "t10.png", (20, 180, 40, 280))]


@pytest.fixture
def folder(project, video, tmp_path):
    """A time-lapse folder: 320x240 and 240x160 PNGs named out of order, plus a non-image file."""
    target = tmp_path / "timelapse_day1"
    target.mkdir()
    with VideoReader(video) as reader:
        for index, name, box in FRAMES:
            image = reader.read(index)
            if box is not None:
                y1, y2, x1, x2 = box
                image = image[y1:y2, x1:x2]
            write_png(target / name, np.ascontiguousarray(image))
    (target / "notes.txt").write_text("day 1")
    return target


def _one_by_one(config, paths, box=None) -> np.ndarray:
    """The predictor run on each image alone."""
    predictor = load_predictor(config, batch_size=1)
    out = []
    for path in paths:
        image = read_image(path)
        if box is not None:
            x1, x2, y1, y2 = box
            image = image[y1:y2, x1:x2]
        out.append(predictor.predict(image[None])[0])
    return np.stack(out).astype(np.float64)


def test_one_file_named_after_the_folder_rows_are_images_of_two_sizes(project, folder):
    result = analyze_time_lapse_frames(project, folder, save_as_csv=True)
    scorer = result.scorer
    assert scorer.startswith("DLC_resnet18_") and scorer.endswith("shuffle1_2")
    h5 = folder / f"timelapse_day1{scorer}.h5"
    assert result.h5 == h5 and h5.is_file() and result.paths.csv.is_file() and result.paths.meta.is_file()
    names = sorted(name for _, name, _ in FRAMES)
    assert result.images == names

    with pd.HDFStore(h5, mode="r") as store:
        assert store.keys() == ["/df_with_missing"] and store.get_storer("df_with_missing").is_table
    df = pd.read_hdf(h5)
    assert list(df.index) == names
    bodyparts = Project.open(project).bodyparts
    assert df.columns.equals(pose_columns(scorer, bodyparts))
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    expected = _one_by_one(project, [folder / n for n in names])
    np.testing.assert_allclose(df.to_numpy().reshape(len(df), -1, 3), expected, rtol=1e-5, atol=1e-3)
    csv = pd.read_csv(result.paths.csv, header=[0, 1, 2], index_col=0)
    assert list(csv.index) == names
    np.testing.assert_allclose(csv.to_numpy(), df.to_numpy(), rtol=1e-6)

    # a second call skips the analysed folder; overwrite=True analyses it again
    before = h5.stat().st_mtime_ns
    assert analyze_time_lapse_frames(project, folder).skipped
    assert h5.stat().st_mtime_ns == before
    assert not analyze_time_lapse_frames(project, folder, overwrite=True).skipped


def test_config_crop_applies_to_every_image(project, folder):
    box = (10, 210, 5, 155)  # x1, x2, y1, y2: inside both sizes
    edit_config(project, {"cropping": True, "x1": box[0], "x2": box[1], "y1": box[2], "y2": box[3]})
    result = analyze_time_lapse_frames(project, folder)
    df = pd.read_hdf(result.h5)
    expected = _one_by_one(project, [folder / n for n in result.images], box)
    np.testing.assert_allclose(df.to_numpy().reshape(len(df), -1, 3), expected, rtol=1e-5, atol=1e-3)

    edit_config(project, {"x2": 300})  # wider than the 240-pixel images
    with pytest.raises(ValueError, match=r"t01\.png.*outside the 240x160"):
        analyze_time_lapse_frames(project, folder, overwrite=True)


def test_clear_errors(project, folder, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere'.*does not exist"):
        analyze_time_lapse_frames(project, tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"No '\.jpg' image in .*4 '\.png'.*frametype='\.png'"):
        analyze_time_lapse_frames(project, folder, frametype="jpg")
    (folder / "t05.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"Cannot read image .*t05\.png"):
        analyze_time_lapse_frames(project, folder)
    assert not list(folder.glob("*.h5"))  # nothing written


def test_precision_follows_analyze_videos_default(project, folder, monkeypatch):
    """precision="auto" means here what it means for videos; the precision used is recorded."""
    import posekit.predict.quantize as quantize
    from posekit.predict.results import read_metadata

    assert read_metadata(analyze_time_lapse_frames(project, folder).paths.meta)["precision"] == "fp32"
    monkeypatch.delenv(quantize.PRECISION_ENV, raising=False)
    monkeypatch.setattr(quantize, "auto_precision", lambda backend="auto": "int8")
    result = analyze_time_lapse_frames(project, folder, overwrite=True)
    assert read_metadata(result.paths.meta)["precision"] == "int8"
    with pytest.raises(ValueError, match="precision must be one of"):
        analyze_time_lapse_frames(project, folder, overwrite=True, precision="int4")
