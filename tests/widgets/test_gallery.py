"""LabelGallery: browsing check_labels images, driven by simulated front-end messages."""

from __future__ import annotations

import numpy as np
import pytest

import posekit
from posekit.io.images import write_png
from posekit.project.project import Project
from posekit.widgets.gallery import LabelGallery
from tests.widgets.test_grabber import click, front_end_sets, jpeg_size, read_image_bytes


@pytest.fixture
def images(tmp_path):
    """Two 'videos': a has three 100x80 images of gray 0, 100, 200; b one 1600x400 image."""
    paths = {"a": [], "b": []}
    for k, value in enumerate((0, 100, 200)):
        paths["a"].append(write_png(tmp_path / f"a{k}_bodypart.png", np.full((80, 100, 3), value, np.uint8)))
    paths["b"].append(write_png(tmp_path / "b0_bodypart.png", np.zeros((400, 1600, 3), np.uint8)))
    return paths


def shown_gray(gallery: LabelGallery) -> float:
    return float(read_image_bytes(gallery.image.value).mean())


def test_slider_and_buttons_browse_one_video(images):
    gallery = LabelGallery(images)
    assert "posekit-gallery" in gallery._dom_classes
    assert gallery.video.options == ("a", "b") and gallery.slider.max == 2
    assert gallery.caption.value == "a: 1 / 3  a0_bodypart.png" and shown_gray(gallery) < 3
    front_end_sets(gallery.slider, value=2)
    assert gallery.current_path == images["a"][2] and abs(shown_gray(gallery) - 200) < 3
    click(gallery.next)
    assert gallery.slider.value == 2  # clamped at the end
    click(gallery.previous)
    assert gallery.caption.value == "a: 2 / 3  a1_bodypart.png" and abs(shown_gray(gallery) - 100) < 3


def test_images_are_compressed_and_downscaled(images):
    gallery = LabelGallery(images, max_width=800)
    front_end_sets(gallery.video, index=1)
    assert gallery.slider.max == 0 and gallery.current_path == images["b"][0]
    assert jpeg_size(gallery.image.value) == (800, 200)
    assert len(gallery.image.value) < 400 * 1600 * 3 / 50


def test_nothing_to_show():
    gallery = LabelGallery({"empty": []})
    assert gallery.video.options == () and gallery.current_path is None
    assert gallery.caption.value.startswith("No labeled images") and gallery.image.value == b""


def test_check_labels_gallery_shows_every_checked_image(synthetic_copy):
    gallery = posekit.check_labels(synthetic_copy).widget()
    project = Project.open(synthetic_copy)
    stem = project.video_stems()[0]
    written = sorted(project.labeled_images_dir(stem).glob("*_bodypart.png"))
    assert sorted(gallery.images[stem]) == written and len(written) == 8
    for position in range(len(written)):
        gallery.show(position, stem)
        assert jpeg_size(gallery.image.value) == (320, 240)
        assert gallery.current_path.name in gallery.caption.value
