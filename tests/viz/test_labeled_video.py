"""create_labeled_video: H.264 output, dots/skeleton/trails where the predictions say, crops, skips."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pandas as pd
import pytest

from posekit.datasets import synthetic_keypoints
from posekit.io.video import VideoReader
from posekit.project import Project, edit_config
from posekit.viz.colors import bodypart_colors
from posekit.viz.labeled_video import (
    create_labeled_video,
    current_scorer,
    read_analysis,
)

N_FRAMES, WIDTH, HEIGHT = 120, 320, 240  # the synthetic project's video (tests/conftest.py)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def scorer_for(project: Project, shuffle: int = 1, iterations: int = 1000) -> str:
    return f"DLC_resnet50_{project.task_date}shuffle{shuffle}_{iterations}"


def write_predictions(video: Path, scorer: str, bodyparts, xy: np.ndarray,
                      likelihood: np.ndarray | None = None, folder: Path | None = None,
                      crop: tuple[int, int, int, int] | None = None) -> Path:
    """An analysis file in DeepLabCut's layout (written with pandas, not posekit)."""
    likelihood = np.full(xy.shape[:2], 0.95) if likelihood is None else likelihood
    cols = pd.MultiIndex.from_product([[scorer], list(bodyparts), ["x", "y", "likelihood"]],
                                      names=["scorer", "bodyparts", "coords"])
    data = np.concatenate([xy, likelihood[..., None]], axis=-1).reshape(len(xy), -1)
    folder = folder or video.parent
    h5 = folder / f"{video.stem}{scorer}.h5"
    pd.DataFrame(data, columns=cols, index=range(len(xy))).to_hdf(
        h5, key="df_with_missing", format="table", mode="w")
    if crop is not None:
        meta = {"data": {"cropping": True, "cropping_parameters": list(crop), "fps": 30.0,
                         "frame_dimensions": [HEIGHT, WIDTH]}}
        (folder / f"{video.stem}{scorer}_meta.json").write_text(json.dumps(meta))
    return h5


def probe(path: Path) -> tuple[str, str, tuple[int, int]]:
    """(codec, pixel format, (width, height)) from ffmpeg's description of the stream."""
    res = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True, check=False)
    line = next(ln for ln in res.stderr.splitlines() if "Stream #" in ln and "Video:" in ln)
    desc = line.split("Video:", 1)[1]
    codec = desc.split()[0].rstrip(",")
    pix_fmt = re.search(r"\b(yuv\w+|rgb\w+|gbr\w+|bgr\w+)", desc).group(1)
    w, h = re.search(r"\b(\d{2,5})x(\d{2,5})\b", desc).groups()
    return codec, pix_fmt, (int(w), int(h))


def frames_of(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [frame for _, frame in reader.iter_frames()]


def patch_color(frame: np.ndarray, x: float, y: float) -> np.ndarray:
    """Mean RGB of the 3x3 pixels around (x, y) (robust to compression)."""
    r, c = round(y), round(x)
    return frame[r - 1:r + 2, c - 1:c + 2].reshape(-1, 3).mean(axis=0)


def close(a, b, tol: float = 30) -> bool:
    return bool(np.abs(np.asarray(a, float) - np.asarray(b, float)).max() <= tol)


@pytest.fixture
def setup(synthetic_copy):
    """(config, project, video, exact keypoints) with opaque dots (alphavalue 1)."""
    edit_config(synthetic_copy, {"alphavalue": 1.0})
    project = Project.open(synthetic_copy)
    video = project.video_path(project.video_stems()[0])
    return synthetic_copy, project, video, synthetic_keypoints(N_FRAMES, WIDTH, HEIGHT)


# --------------------------------------------------------------------------- #
# tests
# --------------------------------------------------------------------------- #


def test_h264_yuv420p_output_with_every_frame(setup):
    config, project, video, kp = setup
    scorer = scorer_for(project)
    write_predictions(video, scorer, project.bodyparts, kp)
    (out,) = create_labeled_video(config, [video])
    assert out == video.parent / f"{video.stem}{scorer}_labeled.mp4"
    assert probe(out) == ("h264", "yuv420p", (WIDTH, HEIGHT))
    with VideoReader(out) as reader:
        assert reader.n_frames == N_FRAMES
    assert not list(video.parent.glob(".*partial*"))  # temporary file renamed away


def test_dots_at_predictions_hidden_below_pcutoff(setup):
    config, project, video, kp = setup
    likelihood = np.full(kp.shape[:2], 0.95)
    likelihood[30, 0] = 0.1  # snout below pcutoff (0.6) in frame 30
    likelihood[31, 0] = 0.6  # exactly pcutoff: not drawn either (strictly above)
    write_predictions(video, scorer_for(project), project.bodyparts, kp, likelihood)
    (out,) = create_labeled_video(config, video)
    drawn, source = frames_of(out), frames_of(video)
    colors = bodypart_colors(project.cfg["colormap"], len(project.bodyparts))
    for j in range(1, len(project.bodyparts)):
        assert close(patch_color(drawn[30], *kp[30, j]), colors[j]), project.bodyparts[j]
    for f in (30, 31):
        got = patch_color(drawn[f], *kp[f, 0])
        assert close(got, patch_color(source[f], *kp[f, 0]), tol=20)
        assert not close(got, colors[0], tol=60)
    assert close(patch_color(drawn[32], *kp[32, 0]), colors[0])  # back above pcutoff


def test_skeleton_between_points_only_when_both_ends_shown(setup):
    config, project, video, kp = setup
    likelihood = np.full(kp.shape[:2], 0.95)
    neck = project.bodyparts.index("neck")
    snout = project.bodyparts.index("snout")
    likelihood[40, neck] = 0.1
    write_predictions(video, scorer_for(project), project.bodyparts, kp, likelihood)
    (plain,) = create_labeled_video(config, [video])
    plain_frames = frames_of(plain)
    (skel,) = create_labeled_video(config, [video], draw_skeleton=True, overwrite=True)
    skel_frames = frames_of(skel)
    for f in (20, 60):
        mid = (kp[f, snout] + kp[f, neck]) / 2
        darkest = min(skel_frames[f][round(mid[1]) + dy, round(mid[0]) + dx].mean()
                      for dy in (-1, 0, 1) for dx in (-1, 0, 1))
        assert darkest < plain_frames[f][round(mid[1]), round(mid[0])].mean() - 30
        assert darkest < 50  # skeleton_color black
    mid = (kp[40, snout] + kp[40, neck]) / 2  # neck hidden: no segment to it
    assert close(patch_color(skel_frames[40], *mid), patch_color(plain_frames[40], *mid), tol=12)


def test_trails_draw_previous_positions(setup):
    config, project, video, kp = setup
    write_predictions(video, scorer_for(project), project.bodyparts, kp)
    colors = bodypart_colors(project.cfg["colormap"], len(project.bodyparts))
    radius, trailpoints, n_parts = project.cfg["dotsize"], 8, len(project.bodyparts)

    def clear(p, points):
        return np.linalg.norm(points.reshape(-1, 2) - p, axis=1).min() > radius + 4

    def layout(f):
        """Trail positions clear of every other dot, and parts whose position
        ``trailpoints`` frames back (just past the trail) is clear of all dots."""
        drawn = kp[f - trailpoints + 1:f + 1]
        trail = [(j, k) for j in range(n_parts) for k in range(1, trailpoints)
                 if clear(kp[f - k, j], np.concatenate([kp[f], np.delete(drawn, j, axis=1)
                                                        .reshape(-1, 2)]))]
        gone = [j for j in range(n_parts) if clear(kp[f - trailpoints, j], drawn)]
        return trail, gone

    f = next(f for f in range(trailpoints, N_FRAMES) if all(layout(f)))
    trail, gone = layout(f)
    (plain,) = create_labeled_video(config, [video])
    plain_f = frames_of(plain)[f]
    (trailed,) = create_labeled_video(config, [video], trailpoints=trailpoints, overwrite=True)
    trail_f = frames_of(trailed)[f]
    checked = 0
    for j, k in trail:  # alpha 0.75 brings a pixel >= 75 % of the way to the color
        p = kp[f - k, j]  # (overlapping trail dots of one part bring it closer still)
        before, after = patch_color(plain_f, *p), patch_color(trail_f, *p)
        if np.linalg.norm(before - colors[j]) > 80:
            checked += 1
            assert (np.linalg.norm(after - colors[j])
                    <= 0.25 * np.linalg.norm(before - colors[j]) + 20), (j, k)
    assert checked >= 3
    for j in gone:  # DeepLabCut's count: trailpoints dots in all, current one included
        p = kp[f - trailpoints, j]
        assert close(patch_color(trail_f, *p), patch_color(plain_f, *p), tol=12), j


def test_displayedbodyparts_subset_and_unknown_name(setup):
    config, project, video, kp = setup
    write_predictions(video, scorer_for(project), project.bodyparts, kp)
    (out,) = create_labeled_video(config, [video], displayedbodyparts=["snout", "tailtip"])
    drawn, source = frames_of(out)[50], frames_of(video)[50]
    colors = bodypart_colors(project.cfg["colormap"], len(project.bodyparts))
    for j, part in enumerate(project.bodyparts):
        got = patch_color(drawn, *kp[50, j])
        if part in ("snout", "tailtip"):
            assert close(got, colors[j]), part  # colors stay those of the full list
        else:
            assert close(got, patch_color(source, *kp[50, j]), tol=20), part
    with pytest.raises(ValueError, match=r"\['nose'\].*known body parts: snout, leftear"):
        create_labeled_video(config, [video], displayedbodyparts=["snout", "nose"],
                             overwrite=True)


def test_cropped_analysis_offsets_and_displaycropped(setup):
    config, project, video, kp = setup
    x1, x2, y1, y2 = 41, 282, 31, 212  # 241 x 181: odd sizes
    write_predictions(video, scorer_for(project), project.bodyparts,
                      kp - np.array([x1, y1], float), crop=(x1, x2, y1, y2))
    analysis = read_analysis(next(video.parent.glob("*DLC_*.h5")))
    assert analysis.cropping and analysis.crop == (x1, x2, y1, y2) and analysis.offset == (x1, y1)
    colors = bodypart_colors(project.cfg["colormap"], len(project.bodyparts))
    f = next(i for i in range(N_FRAMES)
             if (kp[i, :, 0] > x1 + 10).all() and (kp[i, :, 0] < x2 - 10).all()
             and (kp[i, :, 1] > y1 + 10).all() and (kp[i, :, 1] < y2 - 10).all())
    (full,) = create_labeled_video(config, [video])
    assert probe(full)[2] == (WIDTH, HEIGHT)
    frame = frames_of(full)[f]
    for j in range(len(project.bodyparts)):
        assert close(patch_color(frame, *kp[f, j]), colors[j]), j  # offset added back
    (cropped,) = create_labeled_video(config, [video], displaycropped=True, overwrite=True)
    codec, pix_fmt, size = probe(cropped)
    assert (codec, pix_fmt, size) == ("h264", "yuv420p", (242, 182))  # padded to even
    crop_frames = frames_of(cropped)
    assert len(crop_frames) == N_FRAMES
    source = frames_of(video)[f]
    for j in range(len(project.bodyparts)):
        assert close(patch_color(crop_frames[f], *(kp[f, j] - [x1, y1])), colors[j]), j
    # outside the dots the crop shows the source's crop region
    assert close(patch_color(crop_frames[f], 5, 5), patch_color(source, x1 + 5, y1 + 5), tol=12)


def test_skips_existing_unless_overwrite(setup, capsys):
    config, project, video, kp = setup
    write_predictions(video, scorer_for(project), project.bodyparts, kp)
    (out,) = create_labeled_video(config, [video])
    out.write_bytes(b"stale")
    assert create_labeled_video(config, [video]) == [out]
    assert out.read_bytes() == b"stale"
    assert "skipped" in capsys.readouterr().out
    create_labeled_video(config, [video], overwrite=True)
    assert probe(out)[0] == "h264"


def test_missing_analysis_says_to_analyze_first(setup):
    config, project, video, kp = setup
    with pytest.raises(FileNotFoundError, match=r"Run posekit\.analyze_videos"):
        create_labeled_video(config, [video])
    write_predictions(video, scorer_for(project, shuffle=2), project.bodyparts, kp)
    with pytest.raises(FileNotFoundError, match=r"other shuffles.*shuffle2_"):
        create_labeled_video(config, [video])
    (out,) = create_labeled_video(config, [video], shuffle=2)
    assert "shuffle2_" in out.name


def test_destfolder_and_project_stem(setup, tmp_path):
    config, project, video, kp = setup
    dest = tmp_path / "results"
    dest.mkdir()
    write_predictions(video, scorer_for(project), project.bodyparts, kp, folder=dest)
    (out,) = create_labeled_video(config, video.stem, destfolder=dest, outputframerate=10)
    assert out.parent == dest and out.exists()
    assert "10 fps" in subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i",
                                       str(out)], capture_output=True, text=True, check=False).stderr


def test_symlinked_video_finds_analysis_beside_the_link(setup, tmp_path):
    config, project, video, kp = setup
    link = tmp_path / "linked.mp4"
    link.symlink_to(video)
    write_predictions(link, scorer_for(project), project.bodyparts, kp)
    (out,) = create_labeled_video(config, [tmp_path])  # a folder: its videos
    assert out.parent == tmp_path and out.name.startswith("linkedDLC_")
    assert create_labeled_video(config, [tmp_path]) == [out]  # the output is not a video to draw


def test_prefers_the_current_snapshot_scorer(setup):
    config, project, video, kp = setup
    train = project.model_dir(project.training_fraction(0), 1) / "train"
    train.mkdir(parents=True)
    (train / "snapshot-500.msgpack").write_bytes(b"")
    (train / "snapshot-500.json").write_text(json.dumps({"iteration": 500, "net_type": "resnet_50"}))
    current = scorer_for(project, iterations=500)
    assert current_scorer(config) == current
    write_predictions(video, scorer_for(project, iterations=1000), project.bodyparts, kp)
    with pytest.warns(UserWarning, match="current snapshot"):
        (out,) = create_labeled_video(config, [video])
    assert out.name.endswith("shuffle1_1000_labeled.mp4")  # fallback: the newest analysis
    write_predictions(video, current, project.bodyparts, kp)
    newer = video.parent / f"{video.stem}{scorer_for(project, iterations=1000)}.h5"
    newer.touch()  # the 1000-iteration analysis stays the newest file...
    (out,) = create_labeled_video(config, [video])  # ...but the current scorer's wins
    assert out.name == f"{video.stem}{current}_labeled.mp4"


def test_result_shows_as_video_player(setup, monkeypatch):
    import ipywidgets as W

    import posekit
    from posekit.widgets.video_player import VideoPlayer, video_widget

    config, project, video, kp = setup
    write_predictions(video, scorer_for(project), project.bodyparts, kp)
    videos = posekit.create_labeled_video(config, [video])
    player = videos.widget()
    assert isinstance(player, VideoPlayer)
    (out,) = player.paths
    assert videos == [out]
    assert isinstance(player.player, W.Video)
    assert player.player.value == out.read_bytes() and player.player.format == "mp4"
    assert player.player.controls and not player.player.autoplay
    assert player.chooser not in player.children  # one video: no chooser
    monkeypatch.chdir(out.parent)
    linked = video_widget(out, max_embed_bytes=0)  # "big" file: an HTML5 element by URL
    assert isinstance(linked, W.Output)
    html = linked.outputs[0]["data"]["text/html"]
    assert f'src="{out.name}"' in html and "controls" in html
    two = VideoPlayer([out, video])
    assert two.chooser in two.children
    two.chooser.value = 1
    assert two.player.value == video.read_bytes()
