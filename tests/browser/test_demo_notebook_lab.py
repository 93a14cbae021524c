"""The Reaching demo notebook, run top to bottom in JupyterLab in a real headless browser.

Copies ``notebooks/Demo_Reaching.ipynb`` into a fresh root folder, serves it with
JupyterLab (small budgets from the environment, as in ``tests/notebooks``), opens
it in Chromium, waits for the kernel, clicks Run > Run All Cells and waits (bounded)
until nothing is queued or running. Then it checks:

* every code cell ran (``[n]:``; none left ``[ ]:`` or ``[*]:``) and none has an
  error output (saved notebook read back through the contents REST API, and
  the rendered tracebacks in the page);
* the widgets rendered: the check_labels gallery shows a loaded, non-blank image;
  the labeling canvas is painted (every pixel opaque, not one flat colour); the
  training widget says it finished and shows its loss plot as an image; no widget
  shows "Error displaying widget" / an error widget; every widget output of the
  saved notebook has a widget view of non-zero size in the page;
* if Run All stops at an error (Lab aborts the queued cells), the test goes on with
  Run Selected Cell and All Below from the next cell not run, so its failure names
  every failing cell and the later widgets are still looked at;
* no uncaught page JavaScript error, and no console error except the known
  harmless ones in :data:`harness.HARMLESS_CONSOLE_ERRORS`.

Screenshots (``test-artifacts/``): ``demo-lab.png`` (the gallery and the canvas
in view), ``demo-lab-gallery.png``, ``demo-lab-labeler.png``,
``demo-lab-training.png``, ``demo-lab-end.png`` (the last cell), and when present
``demo-lab-error.png`` (the first cell with a traceback), ``demo-lab-evaluation.png``,
``demo-lab-video.png``, ``demo-lab-trajectories.png``, ``demo-lab-refiner.png``.
Per-cell timings are printed (``-s``). Budget: ``$POSEKIT_LAB_DEMO_TIMEOUT`` s
(default 480) for Run All.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time

import pytest

from tests.browser import harness
from tests.browser.harness import (
    canvas_opaque_fraction,
    image_pixels,
    image_size,
    json_timings,
    lab_prompts,
    lab_run_all,
    lab_save,
    lab_server,
    notebook_errors,
    poll,
    record_console,
    wait_lab_notebook_done,
)
from tests.notebooks.budgets import SMALL

pytest.importorskip("jupyterlab", reason="JupyterLab is needed for this test (pip install jupyterlab)")
pytest.importorskip("PIL")

RUN_TIMEOUT = float(os.environ.get("POSEKIT_LAB_DEMO_TIMEOUT", "480"))
pytestmark = [pytest.mark.browser, pytest.mark.timeout(int(RUN_TIMEOUT) + 300)]

NOTEBOOK = harness.REPO / "notebooks" / "Demo_Reaching.ipynb"
NAME = NOTEBOOK.name

#: Selectors of what a widget failing to render leaves in the page.
WIDGET_ERROR = ".jupyter-widgets-error-widget"
WIDGET_ERROR_TEXT = "Error displaying widget"
#: The cells' own widget views (not those nested in Output widgets): CSS class, size.
TOP_LEVEL_WIDGET_VIEWS = """() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]
    .filter(o => !o.parentElement.closest('.jupyter-widgets'))
    .map(o => o.firstElementChild)
    .filter(v => v && v.classList.contains('jupyter-widgets'))
    .map(v => ({cls: [...v.classList].filter(c => c.startsWith('posekit-') || c.startsWith('widget-')).join(' '),
                w: v.getBoundingClientRect().width, h: v.getBoundingClientRect().height}))"""
#: Later widgets, screenshotted when present (not asserted beyond the generic checks).
EXTRA_SCREENSHOTS = {
    ".posekit-evaluation": "demo-lab-evaluation",
    ".posekit-video-player": "demo-lab-video",
    ".posekit-trajectories": "demo-lab-trajectories",
    ".posekit-refiner": "demo-lab-refiner",
}


def _element_screenshot(locator, name: str) -> None:
    """Best effort: a screenshot of one element (a missing one is reported by the checks)."""
    try:
        locator.scroll_into_view_if_needed(timeout=5_000)
        locator.screenshot(path=str(harness.artifacts_dir() / f"{name}.png"), timeout=10_000)
    except Exception as err:  # noqa: BLE001 - screenshots must not mask the real failure
        print(f"no screenshot {name}: {err}")


def test_demo_notebook_runs_in_jupyterlab(reaching_source, tmp_path):
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    root = tmp_path / "lab-root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NAME)
    env = {**SMALL, "POSEKIT_DEMO_DIR": str(tmp_path / "demo"),
           "POSEKIT_REACHING_DIR": str(reaching_source), "POSEKIT_CACHE": str(tmp_path / "cache")}
    problems: list[str] = []
    cell_done: dict[int, float] = {}

    def progress(prompts: list[str]) -> None:  # when each code cell got its execution count
        for i, prompt in enumerate(prompts, 1):
            if i not in cell_done and re.fullmatch(r"\[\d+\]:", prompt):
                cell_done[i] = time.monotonic() - t0

    with lab_server(root, tmp_path / "lab", env=env) as lab, \
            harness.chromium(tmp_path / "chromium-profile", viewport={"width": 1600, "height": 1200}) as browser:
        page = browser.page
        console = record_console(page)
        timings["server_up"] = time.monotonic() - t0
        page.goto(lab.tree_url(NAME), wait_until="domcontentloaded", timeout=60_000)
        page.locator(".jp-NotebookPanel .jp-Notebook .jp-CodeCell").first.wait_for(timeout=60_000)
        expected = sum(c["cell_type"] == "code" for c in json.loads(NOTEBOOK.read_text())["cells"])
        n_code = len(poll(lambda: lab_prompts(page), 30, f"all {expected} code cells to be shown",
                          ok=lambda p: len(p) == expected))
        timings["notebook_shown"] = time.monotonic() - t0
        timings["run_all_attempts"] = lab_run_all(page, lab, NAME)
        timings["run_all_started"] = time.monotonic() - t0
        deadline = t0 + timings["run_all_started"] + RUN_TIMEOUT
        try:
            prompts = wait_lab_notebook_done(page, lab, NAME, RUN_TIMEOUT, progress=progress)
            timings["run_all_done"] = time.monotonic() - t0
            assert len(prompts) == n_code, f"{n_code} code cells, prompts now: {prompts}"
            not_run = [i for i, p in enumerate(prompts, 1) if not re.fullmatch(r"\[\d+\]:", p)]
            if not_run:
                # An error made Lab abort the queued cells (stop_on_error). The test fails for
                # that already; go on below each stop so the report names EVERY failing cell
                # and the later widgets still get checked.
                problems.append(f"Run All stopped early: code cells {not_run} were not run by it")
                continued = []
                while not_run and time.monotonic() < deadline:
                    continued.append(not_run[0])
                    harness.lab_run_from(page, not_run[0])
                    prompts = wait_lab_notebook_done(page, lab, NAME, max(deadline - time.monotonic(), 5.0),
                                                     progress=progress)
                    not_run = [i for i in not_run if not re.fullmatch(r"\[\d+\]:", prompts[i - 1])]
                timings["continued_done"] = time.monotonic() - t0
                print(f"\nRun All stopped early; continued with Run Selected Cell and All Below "
                      f"from code cells {continued}")
                if not_run:
                    problems.append(f"code cells never run (budget {RUN_TIMEOUT:g} s spent): {not_run}")
        finally:
            _element_screenshot(page.locator(".jp-Notebook .jp-Cell").last, "demo-lab-end")
        saved = lab_save(page, lab, NAME)
        timings["saved"] = time.monotonic() - t0
        errors = notebook_errors(saved)
        if errors:
            problems.append(f"error outputs (code cell, ename, evalue): {errors}")
        tracebacks = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Traceback")
        if tracebacks.count():
            problems.append(f"{tracebacks.count()} traceback(s) shown in the page, first:\n"
                            + tracebacks.first.inner_text()[-1500:])
            _element_screenshot(page.locator(".jp-Notebook .jp-CodeCell", has=tracebacks).first,
                                "demo-lab-error")

        # -- the widgets rendered ------------------------------------------------------------ #
        gallery = page.locator(".posekit-gallery").first
        try:
            gallery.scroll_into_view_if_needed(timeout=15_000)
            image = gallery.locator("img.posekit-gallery-image")
            width, height = image_size(image)  # waits for the image to be decoded
            pixels = image_pixels(image)
            if pixels.std() < 5:
                problems.append(f"gallery image is blank (std {pixels.std():.1f}, {width}x{height})")
        except Exception as err:  # noqa: BLE001 - collect, report all problems at once
            problems.append(f"check_labels gallery not rendered: {err}")
        timings["gallery_checked"] = time.monotonic() - t0

        labeler = page.locator(".posekit-labeler").first
        try:
            labeler.scroll_into_view_if_needed(timeout=15_000)
            canvas = labeler.locator("canvas.posekit-label-canvas, .posekit-label-canvas canvas").first
            canvas.wait_for(state="visible", timeout=15_000)
            poll(lambda: canvas_opaque_fraction(canvas), 20, "the labeling canvas to be painted (opaque pixels)",
                 ok=lambda f: f == 1.0)
            pixels = image_pixels(canvas)
            if pixels.std() < 5:
                problems.append(f"labeling canvas shows one flat colour (std {pixels.std():.1f}): no frame")
        except Exception as err:  # noqa: BLE001
            problems.append(f"labeling canvas not painted: {err}")
        timings["canvas_checked"] = time.monotonic() - t0

        training = page.locator(".posekit-training").first
        try:
            training.scroll_into_view_if_needed(timeout=15_000)
            iters = SMALL["POSEKIT_DEMO_MAXITERS"]
            training.get_by_text(f"finished at iteration {iters}, snapshot saved").wait_for(timeout=15_000)
        except Exception as err:  # noqa: BLE001
            problems.append(f"training widget not rendered / not finished: {err}")
        try:  # the loss curve: a loaded image (or a painted canvas), not a figure's text repr
            plot = training.locator("img, canvas").first
            plot.wait_for(state="attached", timeout=5_000)
            if plot.evaluate("el => el.tagName") == "CANVAS":
                poll(lambda: canvas_opaque_fraction(plot), 10, "the loss plot canvas to be painted",
                     ok=lambda f: f > 0)
            else:
                image_size(plot)
        except Exception as err:  # noqa: BLE001
            text = training.inner_text() if training.count() else ""
            shown = re.search(r"<Figure size[^>]*>", text)
            problems.append("training widget shows no loss plot image"
                            + (f": it shows the figure's text repr {shown[0]!r} (a Figure displayed with "
                               "no image formatter registered)" if shown else f": {err}"))

        broken = page.locator(WIDGET_ERROR).count() + page.get_by_text(WIDGET_ERROR_TEXT).count()
        if broken:
            problems.append(f"{broken} widget(s) failed to render ({WIDGET_ERROR} / {WIDGET_ERROR_TEXT!r})")
        # Every widget the kernel displayed became a widget view of non-zero size.
        n_widget_outputs = sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                               for c in saved["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))
        views = page.evaluate(TOP_LEVEL_WIDGET_VIEWS)
        empty = [v for v in views if not (v["w"] > 0 and v["h"] > 0)]
        if len(views) != n_widget_outputs or empty:
            problems.append(f"{n_widget_outputs} widget outputs in the notebook, {len(views)} widget views "
                            f"in the page; empty views: {empty}")

        # -- screenshots: the widget areas, and the page with the gallery + canvas in view --- #
        page.mouse.move(5, 5)
        _element_screenshot(gallery, "demo-lab-gallery")
        _element_screenshot(labeler, "demo-lab-labeler")
        _element_screenshot(training, "demo-lab-training")
        for css, name in EXTRA_SCREENSHOTS.items():
            if page.locator(css).count():
                _element_screenshot(page.locator(css).first, name)
        with contextlib.suppress(Exception):  # a missing gallery is reported above
            gallery.evaluate("el => el.scrollIntoView({block: 'start'})", timeout=5_000)
            page.wait_for_timeout(300)
        harness.screenshot(page, "demo-lab")

        # -- the browser console and page ------------------------------------------------------ #
        bad_console = harness.harmful_console_errors(console)
        page_errors = list(browser.errors)
    timings["torn_down"] = time.monotonic() - t0

    print(f"\nlab timings (s since test start): {json_timings(timings)}")
    print("code cell -> s since test start when it got its execution count: "
          + json_timings({str(k): v for k, v in sorted(cell_done.items())}))
    print(f"console errors: {len(console)} ({len(console) - len(bad_console)} known harmless)")
    for message in console:
        print(f"  {message}")
    if bad_console:
        problems.append("console errors:\n" + "\n".join(f"  {m}" for m in bad_console))
    if page_errors:
        problems.append(f"uncaught JavaScript errors in the page: {page_errors}")
    if lab.leftover_kernels:
        problems.append(f"kernels still running after teardown: {lab.leftover_kernels}")
    assert not problems, "\n".join(problems) + f"\n--- jupyterlab log tail ---\n{lab.log_tail()}"
