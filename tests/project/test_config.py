"""config.yaml: reading, validation with specific errors, round trips, moved projects."""

from __future__ import annotations

import shutil

import pytest
import yaml

from posekit.errors import ConfigError
from posekit.project.config import (
    CONFIG_KEYS,
    edit_config,
    parse_crop,
    read_config,
    write_config,
)
from posekit.project.project import Project


def _write(tmp_path, **overrides):
    cfg = {
        "Task": "t",
        "scorer": "s",
        "date": "Jan5",
        "video_sets": {"/x/v.mp4": {"crop": "0, 320, 0, 240"}},
        "bodyparts": ["a", "b"],
        "skeleton": [["a", "b"]],
    }
    cfg.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("overrides", "key", "hint"),
    [
        ({"bodyparts": []}, "bodyparts", "non-empty"),
        ({"bodyparts": ["a", "b", "a"]}, "bodyparts", "duplicate names \\['a'\\]"),
        ({"start": 0.8, "stop": 0.2}, "start", "smaller than stop"),
        ({"stop": 1.5}, "stop", "between 0 and 1"),
        ({"TrainingFraction": [1.2]}, "TrainingFraction", "strictly between"),
        ({"TrainingFraction": [0.955]}, "TrainingFraction", "two decimals"),
        ({"TrainingFraction": 0.95}, "TrainingFraction", "list"),
        ({"numframes2pick": "20"}, "numframes2pick", "integer >= 1"),
        ({"default_net_type": "vgg"}, "default_net_type", "resnet_50"),
        ({"colormap": "nocmap"}, "colormap", "unknown matplotlib colormap"),
        ({"pcutoff": 2}, "pcutoff", "\\[0, 1\\]"),
        ({"snapshotindex": "last"}, "snapshotindex", "'all'"),
        ({"skeleton": [["a", "z"]]}, "skeleton", "unknown body part"),
        ({"video_sets": {"/x/v.mp4": {"crop": "0, 320, 240"}}}, "video_sets", "four integers"),
        ({"video_sets": {"/x/v.mp4": {"crop": "300, 20, 0, 240"}}}, "video_sets", "x1 < x2"),
        ({"video_sets": {"/x/v.mp4": "0, 1, 0, 1"}}, "video_sets", "crop"),
        ({"multianimalproject": True}, "multianimalproject", "not supported"),
        ({"Task": ""}, "Task", "non-empty"),
        ({"cropping": "yes"}, "cropping", "true or false"),
        ({"dotsize": 1000000000}, "dotsize", "too large; use an integer from 1 to 200"),
        ({"dotsize": 0}, "dotsize", "integer >= 1"),
        ({"numframes2pick": 10**9}, "numframes2pick", "too large"),
        ({"alphavalue": 50}, "alphavalue", "\\[0, 1\\]"),
        ({"pcutoff": -0.5}, "pcutoff", "\\[0, 1\\]"),
        ({"skeleton_color": "notacolor"}, "skeleton_color", "not a matplotlib color"),
        ({"colormap": 7}, "colormap", "colormap name"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, overrides, key, hint):
    path = _write(tmp_path, **overrides)
    with pytest.raises(ConfigError, match=hint) as err:
        read_config(path)
    assert key in str(err.value)
    assert str(path) in str(err.value)


def test_missing_required_key(tmp_path):
    path = _write(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data["scorer"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"'scorer'.*missing"):
        read_config(path)


def test_missing_bodyparts_is_an_error_not_the_template(tmp_path):
    """Before: the template's bodypart1..objectA silently filled the gap."""
    path = _write(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data["bodyparts"], data["skeleton"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"config key 'bodyparts'.*is missing"):
        read_config(path)
    with pytest.raises(ConfigError, match=r"'bodyparts'.*is missing"):
        edit_config(path, {"numframes2pick": 5})
    assert read_config(path, validate=False).get("bodyparts") is None


def test_absurd_plotting_value_is_refused_by_edit_config(tmp_path):
    path = _write(tmp_path)
    with pytest.raises(ConfigError, match="dotsize"):
        edit_config(path, {"dotsize": 1000000000})
    assert "dotsize" not in yaml.safe_load(path.read_text())  # nothing written


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("Task: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_config(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_config(bad)
    with pytest.raises(FileNotFoundError, match=r"nowhere\.yaml"):
        read_config(tmp_path / "nowhere.yaml")


def test_defaults_filled_and_project_path_follows_file(tmp_path):
    path = _write(tmp_path, project_path="/somewhere/else")
    cfg = read_config(path)
    assert cfg["project_path"] == str(tmp_path.resolve())
    assert cfg["pcutoff"] == 0.6 and cfg["colormap"] == "rainbow"
    # the file itself was rewritten with the new location (DLC behaviour)
    assert yaml.safe_load(path.read_text())["project_path"] == str(tmp_path.resolve())


def test_python_tuple_tag_is_read(tmp_path):
    path = _write(tmp_path)
    path.write_text(path.read_text() + "corner2move2: !!python/tuple\n- 50\n- 50\n")
    assert read_config(path)["corner2move2"] == [50, 50]


def test_new_file_order_comments_and_unknown_keys_kept(tmp_path):
    path = _write(tmp_path, engine="pytorch", config_version=0, my_key={"a": 1})
    cfg = read_config(path)
    path = tmp_path / "fresh" / "config.yaml"  # a new file gets DeepLabCut's layout
    path.parent.mkdir()
    write_config(path, cfg)
    text = path.read_text()
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    known = [k for k in keys if k in CONFIG_KEYS]
    assert known == [k for k in CONFIG_KEYS if k in known]  # DLC order
    assert keys[-3:] == ["engine", "config_version", "my_key"]
    assert "    # Project definitions (do not edit)" in text
    again = read_config(path)
    assert again == {**cfg, "project_path": str(path.parent.resolve())}


def test_edit_config_validates(tmp_path):
    path = _write(tmp_path)
    assert edit_config(path, {"numframes2pick": 7})["numframes2pick"] == 7
    with pytest.raises(ConfigError, match="numframes2pick"):
        edit_config(path, {"numframes2pick": 0})
    assert read_config(path)["numframes2pick"] == 7  # bad edit not written


def test_parse_crop_forms():
    assert parse_crop("0, 832, 0, 747") == (0, 832, 0, 747)
    assert parse_crop([1, 2, 3, 4]) == (1, 2, 3, 4)


def test_reaching_config_opens_and_round_trips(reaching_project):
    raw_before = yaml.safe_load(reaching_project.read_text())
    project = Project.open(reaching_project)
    assert project.bodyparts == ["Hand", "Finger1", "Tongue", "Joystick1", "Joystick2"]
    assert project.scorer == "Mackenzie"
    assert project.root == reaching_project.parent.resolve()
    assert project.labeled_stems() == ["reachingvideo1"]
    project.save_config()
    raw_after = yaml.safe_load(reaching_project.read_text())
    for key, value in raw_before.items():
        if key != "project_path":
            assert raw_after[key] == value, key
    assert raw_after["project_path"] == str(reaching_project.parent.resolve())


def test_reaching_unknown_3x_keys_survive(reaching_project):
    text = reaching_project.read_text() + "engine: pytorch\ndetector_snapshotindex: -1\n"
    reaching_project.write_text(text)
    Project.open(reaching_project).save_config()
    raw = yaml.safe_load(reaching_project.read_text())
    assert raw["engine"] == "pytorch" and raw["detector_snapshotindex"] == -1


def test_moved_project_still_opens(tmp_path):
    (tmp_path / "a").mkdir()
    path = _write(tmp_path / "a")
    shutil.move(str(tmp_path / "a"), str(tmp_path / "b"))
    cfg = read_config(tmp_path / "b" / "config.yaml")
    assert cfg["project_path"] == str((tmp_path / "b").resolve())
    assert not path.exists()


USER_CONFIG = """\
# my reaching project, see lab notebook p. 12
Task: t
scorer: s
date: Jan5
bodyparts:   # the parts we track
  - a
  - b

# plotting, tuned by hand
pcutoff: 0.4  # below this the hand is hidden
colormap: jet
my_key: 7 # not DeepLabCut's
video_sets:
  /x/v.mp4:
    crop: 0, 320, 0, 240
skeleton: [[a, b]]
dotsize: 12

# the end
"""


def test_user_comments_and_key_order_survive_edits(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(USER_CONFIG)
    edit_config(path, {"pcutoff": 0.55, "numframes2pick": 7, "bodyparts": ["a", "b", "c"]})
    expected = (
        USER_CONFIG.replace("pcutoff: 0.4  #", "pcutoff: 0.55  #")
        .replace("  - b\n", "  - b\n  - c\n")
        # edit_config also rewrites project_path (the file's folder), after 'date' as DeepLabCut orders it
        .replace("date: Jan5\n", f"date: Jan5\nproject_path: {tmp_path.resolve()}\n")
        # a new known key goes after the file's nearest key before it in DeepLabCut's order
        # (bodyparts, not the later video_sets), above the comments that open the next block
        .replace("\n\n# plotting", "\nnumframes2pick: 7\n\n# plotting")
    )
    assert path.read_text() == expected

    project = Project.open(path)
    project.cfg["colormap"] = "viridis"
    project.cfg["skeleton"] = [["a", "c"]]
    del project.cfg["my_key"]
    project.save_config()
    text = path.read_text()
    for line in ("# my reaching project, see lab notebook p. 12", "bodyparts:   # the parts we track",
                 "\n\n# plotting, tuned by hand\n", "pcutoff: 0.55  # below this the hand is hidden",
                 "colormap: viridis\n", "skeleton: [[a, c]]\n", "\n\n# the end\n"):
        assert line in text, line
    assert "my_key" not in text
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys[:9] == ["Task", "scorer", "date", "multianimalproject", "identity", "project_path",
                        "bodyparts", "start", "stop"]  # the user's order; missing defaults in DLC's place
    assert read_config(path) == project.cfg


def test_unchanged_config_is_rewritten_byte_identical(reaching_source, tmp_path):
    path = tmp_path / "config.yaml"
    shutil.copy(reaching_source / "config.yaml", path)
    original = path.read_bytes()
    write_config(path, yaml.safe_load(original))
    assert path.read_bytes() == original
    # a real change and its undoing come back to the same bytes too
    cfg = read_config(path)  # rewrites project_path only
    assert path.read_bytes() == original.replace(
        b"WILL BE AUTOMATICALLY UPDATED BY DEMO CODE\n", f"{tmp_path.resolve()}\n".encode(), 1)
    moved = path.read_bytes()
    edit_config(path, {"pcutoff": 0.9, "bodyparts": [*cfg["bodyparts"], "Elbow"]})
    assert path.read_bytes() != moved
    edit_config(path, {"pcutoff": cfg["pcutoff"], "bodyparts": cfg["bodyparts"]})
    assert path.read_bytes() == moved
