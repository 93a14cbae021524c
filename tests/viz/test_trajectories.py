"""plot_trajectories: the four DeepLabCut plots, masked below pcutoff, shown with ipympl in notebooks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

import posekit
from posekit.datasets import synthetic_keypoints
from posekit.project import Project
from posekit.viz.trajectories import HIST_BINS, PLOTS, plot_trajectories
from tests.viz.test_labeled_video import (
    HEIGHT,
    N_FRAMES,
    WIDTH,
    scorer_for,
    write_predictions,
)


@pytest.fixture
def analysed(synthetic_copy):
    """(config, project, video, keypoints, likelihood): snout below pcutoff in frames 10-19."""
    project = Project.open(synthetic_copy)
    video = project.video_path(project.video_stems()[0])
    kp = synthetic_keypoints(N_FRAMES, WIDTH, HEIGHT)
    likelihood = np.full(kp.shape[:2], 0.95)
    likelihood[10:20, 0] = 0.2
    write_predictions(video, scorer_for(project), project.bodyparts, kp, likelihood)
    return synthetic_copy, project, video, kp, likelihood


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


def test_four_images_with_dlc_names(analysed):
    config, _, video, _, _ = analysed
    result = plot_trajectories(config, [video])[video.stem]
    folder = video.parent / "plot-poses" / video.stem
    assert result.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["trajectory.png", "plot.png", "plot-likelihood.png", "hist.png"])
    assert list(result.paths) == list(PLOTS)
    for path in result.paths.values():
        with Image.open(path) as image:
            assert image.size == (800, 600)  # 8 x 6 in at resolution 100


def test_imagetype_resolution_destfolder(analysed, tmp_path):
    config, project, video, kp, likelihood = analysed
    dest = tmp_path / "out"
    dest.mkdir()
    write_predictions(video, scorer_for(project), project.bodyparts, kp, likelihood, folder=dest)
    result = plot_trajectories(config, video, destfolder=dest, imagetype="jpg", resolution=50)
    paths = result[video.stem].paths
    assert paths["hist"] == dest / "plot-poses" / video.stem / "hist.jpg"
    with Image.open(paths["trajectory"]) as image:
        assert image.format == "JPEG" and image.size == (400, 300)


def test_points_below_pcutoff_masked_except_likelihood(analysed):
    config, project, video, kp, likelihood = analysed
    figures = plot_trajectories(config, [video])[video.stem].figures
    trajectory = figures["trajectory"].axes[0]
    assert trajectory.yaxis_inverted() and not trajectory.xaxis_inverted()
    snout = lines_by_label(trajectory)["snout"]
    x, y = snout.get_xdata(), snout.get_ydata()
    expected_mask = np.zeros(N_FRAMES, bool)
    expected_mask[10:20] = True
    np.testing.assert_array_equal(np.ma.getmaskarray(x), expected_mask)
    np.testing.assert_array_equal(np.ma.getmaskarray(y), expected_mask)
    np.testing.assert_allclose(x.compressed(), kp[~expected_mask, 0, 0])
    assert snout.get_linestyle() == "None" and snout.get_marker() == "."
    assert not np.ma.getmaskarray(lines_by_label(trajectory)["neck"].get_xdata()).any()

    plot = lines_by_label(figures["plot"].axes[0])
    assert plot["snout x"].get_linestyle() == "--" and plot["snout y"].get_linestyle() == "-"
    np.testing.assert_array_equal(np.ma.getmaskarray(plot["snout y"].get_ydata()), expected_mask)
    np.testing.assert_allclose(np.ma.filled(plot["tailtip y"].get_ydata()), kp[:, 6, 1])

    lik = lines_by_label(figures["plot-likelihood"].axes[0])["snout"]
    assert not np.ma.getmaskarray(lik.get_ydata()).any()
    np.testing.assert_allclose(lik.get_ydata(), likelihood[:, 0])
    alpha = project.cfg["alphavalue"]
    assert lik.get_alpha() == pytest.approx(alpha)
    from posekit.viz.colors import bodypart_colors

    rgb = np.round(np.asarray(lik.get_color())[:3] * 255)
    np.testing.assert_array_equal(rgb, bodypart_colors(project.cfg["colormap"], 7)[0])
    # colorbar names the body parts
    bar = figures["trajectory"].axes[1]
    assert [t.get_text() for t in bar.get_yticklabels()] == project.bodyparts


def test_hist_bins_and_counts(analysed):
    config, project, video, kp, likelihood = analysed
    ax = plot_trajectories(config, [video])[video.stem].figures["hist"].axes[0]
    patches = {p.get_label(): p for p in ax.patches}
    assert len(patches) == 2 * len(project.bodyparts)
    top = max(np.nanmax(kp), np.nanmax(likelihood))  # max of the whole DataFrame
    edges = np.linspace(0, top, HIST_BINS + 1)
    for part, coord in (("snout", 0), ("snout", 1), ("tailtip", 0)):
        xy = patches[f"{part} {'xy'[coord]}"].get_xy()
        np.testing.assert_allclose(np.unique(xy[:, 0]), edges)
        values = kp[:, project.bodyparts.index(part), coord].copy()
        if part == "snout":
            values[10:20] = np.nan  # masked points leave no difference behind
        steps = np.diff(values)
        expected, _ = np.histogram(steps[np.isfinite(steps)], bins=edges)
        np.testing.assert_array_equal(xy[1:-1:2, 1], expected)  # step heights
    assert patches["snout x"].get_linestyle() != patches["snout y"].get_linestyle()  # dashed x


def test_missing_analysis(synthetic_copy):
    project = Project.open(synthetic_copy)
    with pytest.raises(FileNotFoundError, match="analyze_videos"):
        plot_trajectories(synthetic_copy, project.video_stems())


def test_notebook_shows_ipympl_canvases_without_pyplot(analysed, monkeypatch):
    from ipympl.backend_nbagg import Canvas
    from matplotlib._pylab_helpers import Gcf

    config, project, video, kp, likelihood = analysed
    second = video.with_name("second" + video.suffix)
    shutil.copy(video, second)
    write_predictions(second, scorer_for(project), project.bodyparts, kp, likelihood)
    managers = Gcf.get_num_fig_managers()
    report = posekit.plot_trajectories(config, [video, second])
    viewer = report.widget()
    assert set(viewer.results) == {video.stem, "second"} == set(report)
    for stem, result in viewer.results.items():
        assert all(p.is_file() for p in result.paths.values())  # still saved
        canvases = viewer.canvases[stem]
        assert list(canvases) == list(PLOTS)
        for name, canvas in canvases.items():
            assert isinstance(canvas, Canvas)
            assert canvas.figure is result.figures[name] and result.figures[name].canvas is canvas
            assert canvas.manager is not None and canvas.get_state()["_model_name"] == "MPLCanvasModel"
    assert Gcf.get_num_fig_managers() == managers  # nothing registered with pyplot
    assert viewer.chooser in viewer.children
    grid = viewer.children[-1]
    assert list(grid.children) == list(viewer.canvases[video.stem].values())
    viewer.chooser.value = "second"
    assert list(viewer.children[-1].children) == list(viewer.canvases["second"].values())
    # the canvas renders: drawing produces the image the front end would receive
    canvas = viewer.canvases["second"]["trajectory"]
    canvas.draw()
    w, h = canvas.get_width_height()
    assert (w, h) == (512, 384)


def test_one_video_viewer_and_dlc_keywords(analysed):
    config, project, video, _, _ = analysed
    report = posekit.plot_trajectories(config, [video], ".mp4", 1, 0, False, [project.bodyparts[0]])
    assert isinstance(report, dict)
    viewer = report.widget()
    assert list(viewer.results) == [video.stem]
    assert len(report[video.stem].figures["plot"].axes[0].lines) == 2  # x and y of one body part
    assert viewer.chooser not in viewer.children  # one video: no chooser


def test_videotype_filters_folders(analysed):
    config, _, video, _, _ = analysed
    with pytest.raises(FileNotFoundError):
        posekit.plot_trajectories(config, [video.parent], videotype=".avi")
    report = posekit.plot_trajectories(config, [video.parent], video_extensions=video.suffix)
    assert list(report) == [video.stem]
