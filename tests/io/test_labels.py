"""Tests for posekit.io.labels and posekit.io.label_files (CollectedData_<scorer>.h5/.csv
label tables)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.errors import LabelError
from posekit.io import label_files as label_files_mod
from posekit.io.labels import (
    LabelConflictError,
    LabelConsistencyWarning,
    LabelTable,
    collected_data_paths,
    read_label_dataframe,
)
from posekit.utils import atomic as atomic_mod

REACHING = Path("/work/shared/data/Reaching-Mackenzie-2018-08-30")
REACHING_FOLDER = REACHING / "labeled-data" / "reachingvideo1"
REACHING_H5 = REACHING_FOLDER / "CollectedData_Mackenzie.h5"
REACHING_CSV = REACHING_FOLDER / "CollectedData_Mackenzie.csv"
REACHING_PARTS = ["Hand", "Finger1", "Tongue", "Joystick1", "Joystick2"]

needs_reaching = pytest.mark.skipif(
    not (REACHING_H5.is_file() and REACHING_CSV.is_file()),
    reason="Reaching-Mackenzie example data not available",
)

COLS = ["scorer", "bodyparts", "coords"]


def make_frame(values, images, bodyparts=("nose", "tail"), scorer="Alice", form="tuple"):
    """A DLC-layout frame built independently of the module under test."""
    columns = pd.MultiIndex.from_product([[scorer], list(bodyparts), ["x", "y"]], names=COLS)
    if form == "tuple":
        index = pd.MultiIndex.from_tuples([("labeled-data", "vid1", i) for i in images])
    else:
        sep = "\\" if form == "backslash" else "/"
        index = pd.Index([sep.join(("labeled-data", "vid1", i)) for i in images])
    return pd.DataFrame(np.asarray(values, dtype=float), index=index, columns=columns)


VALUES = [[1.5, 2.5, np.nan, np.nan], [10.0, 20.0, 30.25, 40.125]]
IMAGES = ["img001.png", "img002.png"]
K1 = ("labeled-data", "vid1", "img001.png")
K2 = ("labeled-data", "vid1", "img002.png")


def no_temp_files(folder: Path) -> bool:
    return not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------- paths


def test_collected_data_paths(tmp_path):
    h5, csv = collected_data_paths(tmp_path / "vid1", "Alice")
    assert h5 == tmp_path / "vid1" / "CollectedData_Alice.h5"
    assert csv == tmp_path / "vid1" / "CollectedData_Alice.csv"


# ---------------------------------------------------------------------- Reaching data


@needs_reaching
def test_reaching_h5_and_csv_read_identically():
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelConsistencyWarning)  # h5 and csv agree
        from_folder = LabelTable.read(REACHING_FOLDER, REACHING_PARTS, "Mackenzie")
        from_h5 = LabelTable.read(REACHING_H5)
        from_csv = LabelTable.read(REACHING_CSV)
    assert from_folder == from_h5 == from_csv
    assert len(from_h5) == 55
    assert from_h5.bodyparts == REACHING_PARTS
    assert from_h5.scorer == "Mackenzie"
    assert from_h5.images[0] == ("labeled-data", "reachingvideo1", "img005.png")
    assert from_h5.images == sorted(from_h5.images)

    original = pd.read_hdf(REACHING_H5)
    images, coords = from_h5.to_array()
    assert ["/".join(k) for k in images] == list(original.index)
    flat = coords.reshape(55, 10)
    assert np.array_equal(flat, original.to_numpy(), equal_nan=True)
    assert np.array_equal(np.isnan(flat), original.isna().to_numpy())
    assert np.isnan(flat).sum() == 84  # the example file has 84 missing coordinates


@needs_reaching
def test_reaching_rewrite_reads_back_with_plain_pandas(tmp_path):
    table = LabelTable.read(REACHING_H5)
    h5, csv = table.save(tmp_path)
    assert (h5, csv) == collected_data_paths(tmp_path, "Mackenzie")
    original = pd.read_hdf(REACHING_H5).to_numpy()

    frames = [
        pd.read_hdf(h5),
        pd.read_hdf(h5, "df_with_missing"),
        pd.read_csv(csv, header=[0, 1, 2], index_col=[0, 1, 2]),
    ]
    for frame in frames:
        assert list(frame.columns.names) == COLS
        assert frame.index.nlevels == 3
        assert frame.index[0] == ("labeled-data", "reachingvideo1", "img005.png")
        assert list(frame.columns.get_level_values("bodyparts")[::2]) == REACHING_PARTS
        assert np.array_equal(np.isnan(frame.to_numpy(dtype=float)), np.isnan(original))
        # pandas 2's default csv float parser may be 1 ulp off; pandas 3's and
        # float_precision="round_trip" are exact (checked below).
        np.testing.assert_allclose(frame.to_numpy(dtype=float), original, rtol=1e-15, atol=0)
    for frame in frames[:2]:
        assert np.array_equal(frame.to_numpy(), original, equal_nan=True)
    # pandas 3 parses exactly by default (and deprecates float_precision).
    exact_kw = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    exact = pd.read_csv(csv, header=[0, 1, 2], index_col=[0, 1, 2], **exact_kw)
    assert np.array_equal(exact.to_numpy(), original, equal_nan=True)
    # The csv is byte-identical to pandas' own to_csv of the same frame.
    expected_csv = tmp_path / "expected.csv"
    table.to_dataframe().to_csv(expected_csv)
    assert csv.read_bytes() == expected_csv.read_bytes()
    assert LabelTable.read(tmp_path) == table
    assert no_temp_files(tmp_path)


@needs_reaching
def test_reaching_missing_images_none_missing():
    table = LabelTable.read(REACHING_H5)
    assert table.missing_images(REACHING) == []


# ------------------------------------------------------------------ file variants


# pandas cannot write a tuple row index with MultiIndex columns in 'table' format, so
# DLC's table-format label files always have the old string row index.
@pytest.mark.parametrize(
    "fmt, form", [("fixed", "tuple"), ("fixed", "string"), ("table", "string")]
)
@pytest.mark.parametrize("key", ["df_with_missing", "keypoints", "something_else"])
def test_read_h5_any_format_key_and_row_form(tmp_path, fmt, key, form):
    path = tmp_path / "CollectedData_Alice.h5"
    make_frame(VALUES, IMAGES, form=form).to_hdf(path, key=key, format=fmt)
    frame = read_label_dataframe(path)
    assert list(frame.columns.names) == COLS
    assert list(frame.index) == [K1, K2]
    assert frame.index.nlevels == 3
    assert frame.dtypes.eq(np.float64).all()
    assert np.array_equal(frame.to_numpy(), np.asarray(VALUES), equal_nan=True)
    table = LabelTable.read(path)
    assert table.get_point(K2, "tail") == (30.25, 40.125)
    assert table.get_point(K1, "tail") is None


def test_read_h5_with_several_keys_prefers_dlc_keys(tmp_path):
    path = tmp_path / "labels.h5"
    make_frame(VALUES, IMAGES, scorer="Wrong").to_hdf(path, key="aaa")
    make_frame(VALUES, IMAGES).to_hdf(path, key="keypoints")
    assert LabelTable.read(path).scorer == "Alice"
    make_frame(VALUES, IMAGES, scorer="Bob").to_hdf(path, key="df_with_missing")
    assert LabelTable.read(path).scorer == "Bob"


@pytest.mark.parametrize("form", ["tuple", "string", "backslash"])
def test_csv_row_forms_normalise(tmp_path, form):
    path = tmp_path / "CollectedData_Alice.csv"
    make_frame(VALUES, IMAGES, form=form).to_csv(path)
    frame = read_label_dataframe(path)
    assert list(frame.index) == [K1, K2]
    assert list(frame.columns.names) == COLS
    assert np.array_equal(frame.to_numpy(), np.asarray(VALUES), equal_nan=True)


def test_numeric_video_stem_stays_a_string(tmp_path):
    path = tmp_path / "c.csv"
    frame = make_frame(VALUES[:1], IMAGES[:1])
    frame.index = pd.MultiIndex.from_tuples([("labeled-data", "007", "img001.png")])
    frame.to_csv(path)
    assert LabelTable.read(path).images == [("labeled-data", "007", "img001.png")]


def test_to_dataframe_forms_and_object_dtype():
    table = LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES))
    tup = table.to_dataframe()
    assert list(tup.index) == [K1, K2]
    assert list(tup.index.names) == [None, None, None]
    assert all(level.dtype == object for level in tup.index.levels)
    assert all(level.dtype == object for level in tup.columns.levels)
    assert list(tup.columns) == [
        ("Alice", "nose", "x"), ("Alice", "nose", "y"),
        ("Alice", "tail", "x"), ("Alice", "tail", "y"),
    ]
    string = table.to_dataframe("string")
    assert list(string.index) == ["labeled-data/vid1/img001.png", "labeled-data/vid1/img002.png"]
    assert string.index.dtype == object
    with pytest.raises(LabelError):
        table.to_dataframe("bogus")


def test_save_string_form_reads_back(tmp_path):
    table = LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES))
    h5, _ = table.save(tmp_path / "vid1" / "CollectedData_Alice.h5", row_index="string")
    assert list(pd.read_hdf(h5).index) == [
        "labeled-data/vid1/img001.png", "labeled-data/vid1/img002.png"
    ]
    assert LabelTable.read(h5) == table


def test_empty_table_round_trip(tmp_path):
    table = LabelTable.empty("Alice", ["nose"])
    assert len(table) == 0
    images, coords = table.to_array()
    assert images == [] and coords.shape == (0, 1, 2)
    table.save(tmp_path)
    back = LabelTable.read(tmp_path)
    assert back == table and back.bodyparts == ["nose"]


# ------------------------------------------------------------------------- editing


def test_set_get_remove_points():
    table = LabelTable.empty("Alice", ["nose", "tail"])
    table.set_point("labeled-data/vid1/img002.png", "tail", (3.0, 4.0))
    table.set_point(K1, "nose", np.array([1.0, 2.0]))
    assert table.images == [K1, K2]
    assert table.get_point("labeled-data\\vid1\\img002.png", "tail") == (3.0, 4.0)
    assert table.get_point(K1, "tail") is None
    assert table.get_point(("labeled-data", "vid1", "absent.png"), "nose") is None
    assert table.completeness(K1) == (1, 2)
    np.testing.assert_array_equal(table.points(K1), [[1.0, 2.0], [np.nan, np.nan]])
    table.set_point(K1, "nose", (5.5, 6.5))  # overwrite
    assert table.get_point(K1, "nose") == (5.5, 6.5)
    table.remove_point(K1, "nose")
    assert table.get_point(K1, "nose") is None
    assert K1 in table.images  # the row stays
    _images, coords = table.to_array()
    assert coords.shape == (2, 2, 2) and np.isnan(coords[0]).all()
    table.remove_image(K1)
    assert table.images == [K2]
    with pytest.raises(LabelError, match=r"img001\.png"):
        table.remove_image(K1)


def test_add_image_normalises_and_is_idempotent():
    table = LabelTable.empty("Alice", ["nose"])
    assert table.add_image("labeled-data/vid1/img001.png") == K1
    table.set_point(K1, "nose", (1, 2))
    table.add_image(K1)
    assert len(table) == 1 and table.get_point(K1, "nose") == (1.0, 2.0)
    with pytest.raises(LabelError, match="invalid image"):
        table.add_image("vid1/img001.png")


def test_add_bodyparts_keeps_existing_labels():
    table = LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES))
    table.add_bodyparts(["ear", "nose", "ear"])
    table.add_bodyparts("paw")
    assert table.bodyparts == ["nose", "tail", "ear", "paw"]
    assert table.get_point(K2, "tail") == (30.25, 40.125)
    assert table.get_point(K1, "nose") == (1.5, 2.5)
    assert table.get_point(K1, "ear") is None
    assert table.points(K2).shape == (4, 2)
    table.set_point(K1, "ear", (7, 8))
    assert table.completeness(K1) == (2, 4)


def test_read_with_config_bodyparts_reorders_and_adds_nan(tmp_path):
    LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES)).save(tmp_path)
    table = LabelTable.read(tmp_path, bodyparts=["tail", "ear", "nose"], scorer="Alice")
    assert table.bodyparts == ["tail", "ear", "nose"]
    assert table.get_point(K2, "tail") == (30.25, 40.125)
    assert table.get_point(K1, "nose") == (1.5, 2.5)
    assert table.get_point(K2, "ear") is None
    assert list(table.to_dataframe().columns.get_level_values("bodyparts")[::2]) == [
        "tail", "ear", "nose"
    ]


def test_extra_bodypart_in_file_is_refused(tmp_path):
    LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES)).save(tmp_path)
    with pytest.raises(LabelError, match=r"\['tail'\].*config.yaml"):
        LabelTable.read(tmp_path, bodyparts=["nose"])


def test_scorer_mismatch_names_both(tmp_path):
    LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES)).save(tmp_path)
    (tmp_path / "CollectedData_Alice.h5").rename(tmp_path / "CollectedData_Bob.h5")
    with pytest.raises(LabelError, match=r"'Alice'.*'Bob'.*config\.yaml"):
        LabelTable.read(tmp_path / "CollectedData_Bob.h5", scorer="Bob")


def test_scorer_can_be_changed_and_saved_under_new_name(tmp_path):
    table = LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES))
    table.scorer = "Bob"
    h5, _ = table.save(tmp_path)
    assert h5.name == "CollectedData_Bob.h5"
    assert set(pd.read_hdf(h5).columns.get_level_values("scorer")) == {"Bob"}


def test_unknown_bodypart_error_lists_known():
    table = LabelTable.empty("Alice", ["nose", "tail"])
    with pytest.raises(LabelError, match=r"'paw'.*\['nose', 'tail'\]"):
        table.set_point(K1, "paw", (1, 2))
    with pytest.raises(LabelError, match="paw"):
        table.get_point(K1, "paw")
    assert len(table) == 0  # the failed set_point added no row


@pytest.mark.parametrize("xy", [(np.nan, 1.0), (1.0, np.inf), (-np.inf, 0.0)])
def test_non_finite_point_refused(xy):
    table = LabelTable.empty("Alice", ["nose"])
    with pytest.raises(LabelError, match="not finite"):
        table.set_point(K1, "nose", xy)
    assert len(table) == 0


def test_malformed_point_refused():
    table = LabelTable.empty("Alice", ["nose"])
    with pytest.raises(LabelError, match="two numbers"):
        table.set_point(K1, "nose", (1.0, 2.0, 3.0))
    with pytest.raises(LabelError, match="two numbers"):
        table.set_point(K1, "nose", ("a", 2.0))


def test_bad_bodypart_lists_refused():
    with pytest.raises(LabelError, match=r"duplicate bodyparts \['nose'\]"):
        LabelTable("Alice", ["nose", "tail", "nose"])
    with pytest.raises(LabelError, match="empty"):
        LabelTable("Alice", [])
    with pytest.raises(LabelError, match="list"):
        LabelTable("Alice", "nose")
    with pytest.raises(LabelError, match="scorer"):
        LabelTable("", ["nose"])


def test_equality_includes_nan_positions():
    a = LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES))
    b = LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES, form="string"))
    assert a == b
    b.set_point(K1, "tail", (0.0, 0.0))
    assert a != b
    b.remove_point(K1, "tail")
    assert a == b
    assert a != LabelTable("Alice", ["tail", "nose"], data=make_frame(VALUES, IMAGES))
    assert a != "not a table"
    assert "images=2" in repr(a) and "labelled=3/4" in repr(a)


def test_duplicate_rows_refused():
    frame = make_frame(VALUES, ["img001.png", "img001.png"])
    with pytest.raises(LabelError, match="duplicated image"):
        LabelTable("Alice", ["nose", "tail"], data=frame)


# ------------------------------------------------------------------- atomic saving


def _saved_pair(tmp_path):
    table = LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES))
    h5, csv = table.save(tmp_path)
    return table, h5, csv, h5.read_bytes(), csv.read_bytes()


def _changed(table):
    new = LabelTable("Alice", table.bodyparts, data=table.to_dataframe())
    new.set_point(K1, "tail", (99.0, 98.0))
    new.set_point("labeled-data/vid1/img003.png", "nose", (1.0, 1.0))
    return new


@pytest.mark.parametrize("failing", ["_write_csv", "_write_h5"])
def test_failed_write_leaves_previous_pair(tmp_path, monkeypatch, failing):
    table, h5, csv, h5_bytes, csv_bytes = _saved_pair(tmp_path)
    new = _changed(table)

    def boom(frame, path):
        Path(path).write_bytes(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(label_files_mod, failing, boom)
    with pytest.raises(OSError, match="disk full"):
        new.save(tmp_path)
    assert h5.read_bytes() == h5_bytes
    assert csv.read_bytes() == csv_bytes
    assert no_temp_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([h5.name, csv.name])
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelConsistencyWarning)
        assert LabelTable.read(tmp_path) == table


def test_crash_between_renames_is_detected_and_repaired(tmp_path, monkeypatch):
    table, h5, csv, h5_bytes, csv_bytes = _saved_pair(tmp_path)
    new = _changed(table)
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(".csv"):
            raise OSError("crash before csv rename")
        real_replace(src, dst)

    monkeypatch.setattr(atomic_mod.os, "replace", replace)
    with pytest.raises(OSError, match="crash before csv rename"):
        new.save(tmp_path)
    monkeypatch.undo()
    assert h5.read_bytes() != h5_bytes  # the new h5 went in ...
    assert csv.read_bytes() == csv_bytes  # ... the csv is the old one
    assert no_temp_files(tmp_path)

    with pytest.warns(LabelConsistencyWarning, match="stale"):
        recovered = LabelTable.read(tmp_path)
    assert recovered == new  # the h5 wins
    recovered.save(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelConsistencyWarning)
        assert LabelTable.read(tmp_path) == new
        assert LabelTable.read(csv) == new


def test_explicit_csv_wins_over_disagreeing_h5(tmp_path):
    table, h5, csv, _, _ = _saved_pair(tmp_path)
    edited = _changed(table).to_dataframe()
    edited.to_csv(csv)  # hand-edited csv
    with pytest.warns(LabelConsistencyWarning, match="csv you asked for"):
        from_csv = LabelTable.read(csv)
    assert from_csv == _changed(table)
    with pytest.warns(LabelConsistencyWarning, match="stale"):
        assert LabelTable.read(h5) == table


def test_unreadable_csv_beside_good_h5_warns(tmp_path):
    table, _, csv, _, _ = _saved_pair(tmp_path)
    csv.write_text("garbage\n")
    with pytest.warns(LabelConsistencyWarning, match="cannot be read"):
        assert LabelTable.read(tmp_path) == table


def test_read_folder_with_only_csv(tmp_path):
    table, h5, _, _, _ = _saved_pair(tmp_path)
    h5.unlink()
    assert LabelTable.read(tmp_path) == table


def test_read_folder_with_several_scorers_needs_scorer(tmp_path):
    table, _, _, _, _ = _saved_pair(tmp_path)
    other = LabelTable("Bob", ["nose"])
    other.set_point(K1, "nose", (1, 1))
    other.save(tmp_path)
    with pytest.raises(LabelError, match="scorer="):
        LabelTable.read(tmp_path)
    assert LabelTable.read(tmp_path, scorer="Bob") == other
    assert LabelTable.read(tmp_path, scorer="Alice") == table


# ------------------------------------------------------------------ missing images


def test_missing_images_reported_not_dropped(tmp_path):
    folder = tmp_path / "labeled-data" / "vid1"
    folder.mkdir(parents=True)
    (folder / "img001.png").write_bytes(b"png")
    table = LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES))
    table.add_image("labeled-data/vid1/img000.png")
    assert table.missing_images(tmp_path) == [("labeled-data", "vid1", "img000.png"), K2]
    assert len(table) == 3


# ----------------------------------------------------------------- malformed input


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_non_numeric_value(tmp_path):
    path = _write(
        tmp_path / "CollectedData_Alice.csv",
        "scorer,Alice,Alice\nbodyparts,nose,nose\ncoords,x,y\n"
        "labeled-data/vid1/img001.png,1.5,oops\n",
    )
    with pytest.raises(LabelError, match=r"CollectedData_Alice\.csv.*'oops'"):
        read_label_dataframe(path)


def test_csv_wrong_header(tmp_path):
    path = _write(
        tmp_path / "CollectedData_Alice.csv",
        "scorer,Alice,Alice\ncoords,x,y\nlabeled-data/vid1/img001.png,1.5,2\n",
    )
    with pytest.raises(LabelError, match=r"CollectedData_Alice\.csv.*header"):
        LabelTable.read(path)


def test_csv_missing_y_coords(tmp_path):
    path = _write(
        tmp_path / "bad.csv",
        "scorer,Alice,Alice\nbodyparts,nose,tail\ncoords,x,x\n"
        "labeled-data/vid1/img001.png,1.5,2\n",
    )
    with pytest.raises(LabelError, match=r"bad\.csv.*'nose'.*'y'"):
        read_label_dataframe(path)


def test_csv_multi_animal_refused(tmp_path):
    path = _write(
        tmp_path / "ma.csv",
        "scorer,,,Alice,Alice\nindividuals,,,mouse1,mouse1\nbodyparts,,,nose,nose\n"
        "coords,,,x,y\nlabeled-data,vid1,img001.png,1,2\n",
    )
    with pytest.raises(LabelError, match=r"ma\.csv.*multi-animal.*not supported yet"):
        read_label_dataframe(path)


def test_h5_wrong_column_levels(tmp_path):
    path = tmp_path / "two_levels.h5"
    frame = make_frame(VALUES, IMAGES)
    frame.columns = frame.columns.droplevel(0)
    frame.to_hdf(path, key="df_with_missing")
    with pytest.raises(LabelError, match=r"two_levels\.h5.*column levels"):
        read_label_dataframe(path)


def test_h5_likelihood_columns_refused(tmp_path):
    path = tmp_path / "machinelabels.h5"
    cols = pd.MultiIndex.from_product(
        [["DLC"], ["nose"], ["x", "y", "likelihood"]], names=COLS
    )
    pd.DataFrame([[1.0, 2.0, 0.9]], index=["labeled-data/vid1/img001.png"], columns=cols).to_hdf(
        path, key="df_with_missing"
    )
    with pytest.raises(LabelError, match="predictions"):
        read_label_dataframe(path)


def test_not_an_hdf5_file(tmp_path):
    path = _write(tmp_path / "CollectedData_Alice.h5", "not hdf5")
    with pytest.raises(LabelError, match=r"CollectedData_Alice\.h5"):
        read_label_dataframe(path)


def test_missing_file_and_empty_folder(tmp_path):
    missing = tmp_path / "CollectedData_Nobody.h5"
    with pytest.raises(FileNotFoundError, match=r"CollectedData_Nobody\.h5"):
        read_label_dataframe(missing)
    with pytest.raises(FileNotFoundError, match=r"CollectedData_Nobody\.h5"):
        LabelTable.read(missing)
    with pytest.raises(FileNotFoundError, match=str(tmp_path.name)):
        LabelTable.read(tmp_path)


# ----------------------------------------------------------------------------- two writers
# Two tables of one folder, as two notebook views or a view and a script hold them.


def _two_readers(tmp_path):
    LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES)).save(tmp_path)
    return LabelTable.read(tmp_path, scorer="Alice"), LabelTable.read(tmp_path, scorer="Alice")


def _on_disk(tmp_path) -> LabelTable:
    return LabelTable.read(tmp_path, scorer="Alice")


def test_save_refuses_a_file_changed_since_read_and_rebase_keeps_both(tmp_path):
    first, second = _two_readers(tmp_path)
    assert not first.changed_on_disk() and first.fingerprint is not None
    second.set_point(K1, "tail", (7.0, 8.0))
    second.save(tmp_path)
    assert first.changed_on_disk()
    first.set_point(K2, "nose", (11.0, 22.0))
    with pytest.raises(LabelConflictError, match=r"CollectedData_Alice\.h5 changed on disk.*rebase"):
        first.save(tmp_path)
    assert _on_disk(tmp_path).get_point(K1, "tail") == (7.0, 8.0)  # nothing written
    changes = first.rebase()
    assert changes.points == {(K1, "tail")} and "1 label(s) in 1 image(s)" in str(changes)
    first.save(tmp_path)
    disk = _on_disk(tmp_path)
    assert disk.get_point(K1, "tail") == (7.0, 8.0) and disk.get_point(K2, "nose") == (11.0, 22.0)
    assert disk.get_point(K1, "nose") == (1.5, 2.5)  # untouched by both
    # its own save is what the table now remembers: saving again needs no rebase
    first.remove_point(K2, "tail")
    first.save(tmp_path)
    assert _on_disk(tmp_path).get_point(K2, "tail") is None
    assert not first.rebase()  # nothing changed on disk since


def test_a_table_without_read_history_or_with_overwrite_replaces_as_before(tmp_path):
    _, second = _two_readers(tmp_path)
    fresh = LabelTable("Alice", ["nose", "tail"])  # built in code, never read
    fresh.set_point(K1, "nose", (0.0, 0.0))
    fresh.save(tmp_path)
    assert len(_on_disk(tmp_path)) == 1
    assert LabelTable("Alice", ["nose", "tail"]).fingerprint is None
    with pytest.raises(LabelConflictError):
        second.save(tmp_path)
    second.save(tmp_path, overwrite=True)
    assert len(_on_disk(tmp_path)) == 2
    with pytest.raises(LabelError, match="nothing to rebase onto"):
        LabelTable("Alice", ["nose"]).rebase()


def test_read_missing_ok_remembers_that_there_was_no_file(tmp_path):
    late = LabelTable.read(tmp_path, bodyparts=["nose", "tail"], scorer="Alice", missing_ok=True)
    assert len(late) == 0 and late.fingerprint is not None and not late.fingerprint.exists
    LabelTable("Alice", ["nose", "tail"], data=make_frame(VALUES, IMAGES)).save(tmp_path)
    late.set_point(("labeled-data", "vid1", "img003.png"), "nose", (3.0, 4.0))
    with pytest.raises(LabelConflictError):
        late.save(tmp_path)
    assert late.rebase().images_added == 2
    late.save(tmp_path)
    assert _on_disk(tmp_path).images == [K1, K2, ("labeled-data", "vid1", "img003.png")]
    with pytest.raises(LabelError, match="needs scorer= and bodyparts="):
        LabelTable.read(tmp_path / "empty", missing_ok=True)


def test_rebase_refuses_the_same_point_changed_on_both_sides(tmp_path):
    first, second = _two_readers(tmp_path)
    second.set_point(K1, "nose", (100.0, 100.0))
    second.save(tmp_path)
    first.set_point(K1, "nose", (5.0, 5.0))
    before = first.to_dataframe()
    with pytest.raises(LabelConflictError, match=r"nose of labeled-data/vid1/img001\.png"):
        first.rebase()
    pd.testing.assert_frame_equal(first.to_dataframe(), before)  # left as it was
    with pytest.raises(LabelConflictError):
        first.save(tmp_path)
    assert _on_disk(tmp_path).get_point(K1, "nose") == (100.0, 100.0)


def test_rebase_same_value_on_both_sides_is_no_conflict(tmp_path):
    first, second = _two_readers(tmp_path)
    for table in (second, first):
        table.set_point(K1, "tail", (9.0, 9.0))
    second.save(tmp_path)
    first.rebase()
    first.save(tmp_path)
    assert _on_disk(tmp_path).get_point(K1, "tail") == (9.0, 9.0)


def test_rebase_refuses_bodyparts_it_does_not_know(tmp_path):
    first, _ = _two_readers(tmp_path)
    newer = LabelTable.read(tmp_path, bodyparts=["nose", "tail", "ear"], scorer="Alice")
    newer.set_point(K1, "ear", (1.0, 1.0))
    newer.save(tmp_path)
    first.set_point(K2, "nose", (2.0, 2.0))
    with pytest.raises(LabelConflictError, match=r"bodyparts \['ear'\] that this table does not know"):
        first.rebase()
    assert _on_disk(tmp_path).get_point(K1, "ear") == (1.0, 1.0)
    # a file that lost a bodyparts column it had is refused too
    older = LabelTable.read(tmp_path, scorer="Alice")
    LabelTable("Alice", ["nose"], data=make_frame([[1.0, 2.0]], ["img001.png"], ["nose"])).save(tmp_path)
    with pytest.raises(LabelConflictError, match=r"lost the bodyparts \['tail', 'ear'\]"):
        older.rebase()


def test_rebase_image_removed_on_one_side(tmp_path):
    first, second = _two_readers(tmp_path)
    second.remove_image(K2)
    second.save(tmp_path)
    first.set_point(K2, "nose", (6.0, 6.0))
    with pytest.raises(LabelConflictError, match=r"img002\.png edited here but removed there"):
        first.rebase()
    # removed here, untouched there: the removal is re-applied
    third = _on_disk(tmp_path)
    third.remove_image(K1)
    other = _on_disk(tmp_path)
    other.set_point(("labeled-data", "vid1", "img009.png"), "nose", (1.0, 1.0))
    other.save(tmp_path)
    third.rebase()
    third.save(tmp_path)
    assert _on_disk(tmp_path).images == [("labeled-data", "vid1", "img009.png")]
