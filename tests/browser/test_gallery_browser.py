"""The check_labels gallery in a real browser: the drawn labels show, and paging works."""

from __future__ import annotations

import pytest

from posekit.io.images import read_image
from posekit.project.project import Project
from tests.browser.harness import screenshot, wait_for_widget, wait_image_like

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_check_labels_gallery_in_voila(synthetic_copy, voila, browser):
    project = Project.open(synthetic_copy)
    stem = project.video_stems()[0]
    app = voila(["import posekit",
                 f"posekit.check_labels({str(synthetic_copy)!r})"])
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-gallery")
    written = sorted(project.labeled_images_dir(stem).glob("*_bodypart.png"))  # by the kernel
    assert len(written) == 8
    image = root.locator("img.posekit-gallery-image")
    caption = root.locator(".posekit-gallery-caption")
    caption.get_by_text(f"{stem}: 1 / 8  {written[0].name}").wait_for()
    wait_image_like(image, read_image(written[0]))
    root.locator("button.posekit-gallery-next").click()
    caption.get_by_text(f"{stem}: 2 / 8  {written[1].name}").wait_for()
    wait_image_like(image, read_image(written[1]))
    screenshot(page, "gallery-voila")
