"""No HDF5 file that posekit reads can run code: crafted files of each kind are refused.

Each crafted file carries a pickle whose unpickling creates a marker folder; a test
fails if the marker appears, and if the file is not refused with a message that names
it. Ordinary files (DeepLabCut's own, pandas ``fixed`` and ``table`` formats, whose
attributes hold plain pickled lists and names) must still open.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from posekit.errors import AnalysisFileError, LabelError, UnsafeFileError
from posekit.io.hdf5 import check_hdf5_safe
from posekit.io.labels import LabelTable, read_label_dataframe
from posekit.predict.results import read_poses
from posekit.refine.machinelabels import MachineLabels
from posekit.viz.labeled_video import read_analysis

# The crafted files store object columns on purpose; pandas warns that it pickles them.
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")


class _Payload:
    """Unpickling it creates ``marker`` (a folder): proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _label_frame(scorer: str = "me", rows: int = 2) -> pd.DataFrame:
    columns = pd.MultiIndex.from_product(
        [[scorer], ["snout", "tail"], ["x", "y"]], names=["scorer", "bodyparts", "coords"]
    )
    index = pd.MultiIndex.from_tuples([("labeled-data", "vid", f"img{i:03d}.png") for i in range(rows)])
    return pd.DataFrame(np.arange(rows * 4, dtype=float).reshape(rows, 4), index=index, columns=columns)


def _analysis_frame(scorer: str = "DLC_resnet50_netJan1shuffle1_100", rows: int = 3) -> pd.DataFrame:
    columns = pd.MultiIndex.from_product(
        [[scorer], ["snout", "tail"], ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    return pd.DataFrame(np.full((rows, 6), 0.5), columns=columns)


def _with_object_column(frame: pd.DataFrame, marker: Path) -> pd.DataFrame:
    """``frame`` plus an object column holding the payload (pandas pickles it in 'fixed')."""
    frame = frame.copy()
    column = (frame.columns[0][0], "snout", "note")
    frame[column] = [_Payload(marker)] + ["x"] * (len(frame) - 1)
    return frame


def _poison_attribute(path: Path, marker: Path, node: str, name: str) -> None:
    """Replace one attribute with a protocol-0 pickle of the payload (PyTables unpickles it)."""
    data = pickle.dumps(_Payload(marker), protocol=0)
    assert data.endswith(b".")
    with h5py.File(path, "r+") as handle:
        handle[node].attrs[name] = np.bytes_(data)


# --------------------------------------------------------------------------------------
# the check itself
# --------------------------------------------------------------------------------------


def test_ordinary_pandas_files_pass(tmp_path):
    fixed, table = tmp_path / "fixed.h5", tmp_path / "table.h5"
    _label_frame().to_hdf(fixed, key="df_with_missing", format="fixed")
    _analysis_frame().to_hdf(table, key="df_with_missing", format="table")
    for path in (fixed, table):
        check_hdf5_safe(path)  # pickled lists/None in attributes are plain data
    pd.testing.assert_frame_equal(read_poses(table), _analysis_frame())


def test_deeplabcut_label_file_opens(reaching_source):
    h5 = next(reaching_source.glob("labeled-data/*/CollectedData_*.h5"))
    check_hdf5_safe(h5)
    assert read_label_dataframe(h5).shape == (55, 10)


@pytest.mark.parametrize("node,name", [("/", "TITLE"), ("df_with_missing", "pandas_type"),
                                       ("df_with_missing/block0_values", "CLASS")])
def test_poisoned_attribute_is_refused_without_running(tmp_path, node, name):
    path = tmp_path / "CollectedData_me.h5"
    marker = tmp_path / "ran"
    _label_frame().to_hdf(path, key="df_with_missing", format="fixed")
    _poison_attribute(path, marker, node, name)
    with pytest.raises(UnsafeFileError, match=r"CollectedData_me\.h5.*could run code.*convert"):
        read_label_dataframe(path)
    assert not marker.exists()


def test_plain_pickled_attribute_without_code_passes(tmp_path):
    path = tmp_path / "a.h5"
    _label_frame().to_hdf(path, key="df_with_missing", format="fixed")
    with h5py.File(path, "r+") as handle:
        handle["df_with_missing"].attrs["extra"] = np.bytes_(pickle.dumps({"a": [1, 2.5, None]}, 0))
    check_hdf5_safe(path)


def test_object_node_of_plain_strings_opens(tmp_path):
    """pandas pickles object columns as numpy arrays: harmless when they hold only strings."""
    path = tmp_path / "a.h5"
    frame = _analysis_frame()
    frame[("DLC_resnet50_netJan1shuffle1_100", "snout", "note")] = ["a", "b", "c"]
    frame.to_hdf(path, key="df_with_missing", format="fixed")
    check_hdf5_safe(path)
    assert list(read_poses(path).iloc[:, -1]) == ["a", "b", "c"]


def test_truncated_pickle_after_a_global_is_refused(tmp_path):
    """A pickle that breaks off after its GLOBAL still reached a class lookup."""
    path = tmp_path / "a.h5"
    _label_frame().to_hdf(path, key="df_with_missing", format="fixed")
    with h5py.File(path, "r+") as handle:
        handle["df_with_missing"].attrs["extra"] = np.bytes_(b"cos\nsystem\n(\x00garbage.")
    with pytest.raises(UnsafeFileError, match="GLOBAL os"):
        check_hdf5_safe(path)


# --------------------------------------------------------------------------------------
# each kind of file posekit reads
# --------------------------------------------------------------------------------------


def test_collected_data_object_node_refused(tmp_path):
    folder = tmp_path / "labeled-data" / "vid"
    folder.mkdir(parents=True)
    marker = tmp_path / "ran"
    frame = _with_object_column(_label_frame(), marker)
    frame.to_hdf(folder / "CollectedData_me.h5", key="df_with_missing", format="fixed")
    assert not marker.exists()
    with pytest.raises(UnsafeFileError, match=r"object node.*pickle that calls code"):
        LabelTable.read(folder, scorer="me")
    assert not marker.exists()


def test_check_labels_refuses_crafted_collected_data(synthetic_copy, tmp_path):
    from posekit import check_labels
    from posekit.project import Project

    project = Project.open(synthetic_copy)
    folder = project.labeled_folder(project.video_stems()[0])
    h5 = next(folder.glob("CollectedData_*.h5"))
    marker = tmp_path / "ran"
    _poison_attribute(h5, marker, "df_with_missing", "pandas_type")
    with pytest.raises(UnsafeFileError, match=h5.name):
        check_labels(synthetic_copy)
    assert not marker.exists()


def test_machinelabels_refused(tmp_path):
    path = tmp_path / "machinelabels-iter0.h5"
    marker = tmp_path / "ran"
    frame = _analysis_frame(rows=2)
    frame.index = pd.MultiIndex.from_tuples([("labeled-data", "vid", f"img{i}.png") for i in range(2)])
    _with_object_column(frame, marker).to_hdf(path, key="df_with_missing", format="fixed")
    with pytest.raises(UnsafeFileError, match=path.name):
        MachineLabels.read(path)
    assert not marker.exists()


def test_analysis_file_refused(tmp_path):
    path = tmp_path / "vidDLC_resnet50_netJan1shuffle1_100.h5"
    marker = tmp_path / "ran"
    _analysis_frame().to_hdf(path, key="df_with_missing", format="table")
    _poison_attribute(path, marker, "df_with_missing", "non_index_axes")
    with pytest.raises(UnsafeFileError, match=path.name):
        read_analysis(path)  # what create_labeled_video, plot_trajectories and outliers read
    assert not marker.exists()


def test_evaluation_results_file_refused(tmp_path):
    path = tmp_path / "DLC_resnet50_netJan1shuffle1_100-snapshot-100.h5"
    marker = tmp_path / "ran"
    frame = _analysis_frame()
    _with_object_column(frame, marker).to_hdf(path, key="df_with_missing", format="fixed")
    with pytest.raises(UnsafeFileError, match=path.name):
        read_poses(path)
    assert not marker.exists()


# --------------------------------------------------------------------------------------
# corrupt files
# --------------------------------------------------------------------------------------


def test_truncated_analysis_file_names_file_and_fix(tmp_path):
    path = tmp_path / "vidDLC_resnet50_netJan1shuffle1_100.h5"
    _analysis_frame(rows=200).to_hdf(path, key="df_with_missing", format="table")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AnalysisFileError, match=r"vidDLC.*\.h5.*overwrite=True"):
        read_analysis(path)


def test_garbage_label_file_is_a_label_error(tmp_path):
    path = tmp_path / "CollectedData_me.h5"
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(LabelError, match=r"CollectedData_me\.h5"):
        read_label_dataframe(path)


def test_reaching_copy_still_reads_as_table(reaching_source, tmp_path):
    folder = next(p for p in reaching_source.glob("labeled-data/*") if p.is_dir())
    dest = tmp_path / folder.name
    shutil.copytree(folder, dest)
    table = LabelTable.read(dest)
    assert len(table) == 55
