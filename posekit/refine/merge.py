"""``merge_datasets``: start the next active-learning iteration once every folder is refined.

DeepLabCut's semantics (format spec section 14): every ``labeled-data``
folder (names containing ``_labeled`` or starting with ``.`` excepted) must
hold ``CollectedData_<scorer>``; then config ``iteration`` is incremented (or
set to ``forceiterate`` when that is truthy) and nothing else changes: the
labels are merged by the next ``create_training_dataset``, which writes
``training-datasets/iteration-<N+1>/``. posekit also refuses while machine
labels of the current iteration are unrefined (frames ``extract_outlier_frames``
added that have no CollectedData row would silently miss the training set),
unless ``allow_unrefined=True``, refuses when no label was added or changed
since its last merge (unless ``forceiterate`` is given), and reports what the
next training set will hold. A refusal is also issued as a
:class:`MergeRefusedWarning`, so it shows even when the call is not the last
line of a notebook cell.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posekit.io.labels import LabelTable
from posekit.project.project import Project
from posekit.refine.machinelabels import MachineLabels, machinelabels_path
from posekit.utils.atomic import atomic_write_text

__all__ = [
    "FolderStatus",
    "MergeRefusedWarning",
    "MergeReport",
    "merge_datasets",
    "previous_iteration_snapshot",
]

#: Hidden (DeepLabCut skips dot-names in labeled-data/) record of the last merge:
#: the iteration it set and a digest of the labels it saw.
LAST_MERGE_FILE = ".posekit-last-merge.json"


class MergeRefusedWarning(UserWarning):
    """``merge_datasets`` did not change ``iteration``; the message says why and what to do."""


# Shown on every refusal, not once per call site: re-running the cell after a
# fix that did not help must say so again. Appended, so a user's own filter wins.
warnings.filterwarnings("always", category=MergeRefusedWarning, append=True)


@dataclass
class FolderStatus:
    """One labeled-data folder as ``merge_datasets`` found it.

    Attributes
    ----------
    stem : str
    images : int
        ``img*.png`` files in the folder.
    labeled_images : int
        Images the next training set takes (a CollectedData row with at least
        one visible label and an image file).
    has_collected_data : bool
    unrefined : list of str
        Machine-labelled images of the current iteration with no CollectedData row.
    digest : str
        sha256 of the folder's labels (images and coordinates); empty without
        CollectedData. Tells whether anything changed since the last merge.
    """

    stem: str
    images: int = 0
    labeled_images: int = 0
    has_collected_data: bool = False
    unrefined: list[str] = field(default_factory=list)
    digest: str = ""

    @property
    def empty(self) -> bool:
        """No images and no labels: nothing to train on, nothing to refine."""
        return self.images == 0 and not self.has_collected_data and not self.unrefined


@dataclass
class MergeReport:
    """What ``merge_datasets`` checked and did.

    Attributes
    ----------
    merged : bool
        True when ``iteration`` was changed.
    old_iteration, iteration : int
        Config ``iteration`` before and after.
    folders : list of FolderStatus
    problems : list of str
        Why nothing was merged (empty when ``merged``).
    """

    merged: bool
    old_iteration: int
    iteration: int
    folders: list[FolderStatus]
    problems: list[str] = field(default_factory=list)

    @property
    def labeled_images(self) -> int:
        """Images the next ``create_training_dataset`` will include."""
        return sum(f.labeled_images for f in self.folders)

    def summary(self) -> str:
        lines = []
        if self.merged:
            lines.append(
                f"Merged: iteration {self.old_iteration} -> {self.iteration}. The next "
                f"create_training_dataset writes training-datasets/iteration-{self.iteration}/ "
                f"with {self.labeled_images} labeled image(s):"
            )
        else:
            lines.append(f"Not merged (iteration stays {self.old_iteration}):")
            lines.extend(f"  - {p}" for p in self.problems)
            lines.append("Folders:")
        for f in self.folders:
            state = (
                "empty (ignored)"
                if f.empty
                else f"{f.labeled_images} labeled of {f.images} image(s)"
                + ("" if f.has_collected_data else ", no CollectedData")
                + (f", {len(f.unrefined)} unrefined" if f.unrefined else "")
            )
            lines.append(f"  {f.stem}: {state}")
        if self.merged:
            lines.append(
                "Next: create_training_dataset(config), then train_network(config, "
                "init_weights=previous_iteration_snapshot(config)) to start from the last network."
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"


def _labels_digest(table: LabelTable) -> str:
    images, coords = table.to_array()
    digest = hashlib.sha256(json.dumps([list(k) for k in images]).encode())
    digest.update(json.dumps(table.bodyparts).encode())
    # Rounded: a save/read round trip must not count as a change.
    digest.update(np.round(np.asarray(coords, dtype=np.float64), 4).tobytes())
    return digest.hexdigest()


def _labels_fingerprint(folders: list[FolderStatus]) -> dict[str, str]:
    return {f.stem: f.digest for f in folders if f.digest}


def _last_merge(project: Project) -> dict | None:
    """The record of the last merge, if it set the current iteration (else it is stale)."""
    path = project.labeled_data_dir / LAST_MERGE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: merge as DeepLabCut does
        return None
    if not isinstance(record, dict) or record.get("iteration") != project.iteration:
        return None
    return record


def _write_last_merge(project: Project, old: int, new: int, folders: list[FolderStatus]) -> None:
    record = {
        "iteration": new,
        "from_iteration": old,
        "merged_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "labels": _labels_fingerprint(folders),
    }
    atomic_write_text(project.labeled_data_dir / LAST_MERGE_FILE, json.dumps(record, indent=2) + "\n")


def _folder_status(project: Project, stem: str) -> FolderStatus:
    status = FolderStatus(stem=stem, images=len(project.frame_images(stem)))
    h5, csv = project.collected_data_path(stem), project.collected_data_path(stem, ".csv")
    status.has_collected_data = h5.exists() or csv.exists()
    rows: set = set()
    if status.has_collected_data:
        table = LabelTable.read(
            project.labeled_folder(stem), bodyparts=project.bodyparts, scorer=project.scorer
        )
        rows = set(table.images)
        status.digest = _labels_digest(table)
        missing = set(table.missing_images(project.root))
        status.labeled_images = sum(
            1
            for key in table.images
            if key not in missing and table.completeness(key)[0] > 0
        )
    machine = machinelabels_path(project, stem)
    if machine.is_file():
        status.unrefined = [
            key[2] for key in MachineLabels.read(machine).images if key not in rows
        ]
    return status


def merge_datasets(
    config: str | os.PathLike | Project,
    forceiterate: int | None = None,
    *,
    allow_unrefined: bool = False,
) -> MergeReport:
    """Check every labeled-data folder is labelled and refined, then increment ``iteration``.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    forceiterate
        Set ``iteration`` to this value instead of incrementing it (DeepLabCut:
        0 and None mean "increment"). Also merges when nothing changed since the
        last merge.
    allow_unrefined
        Merge even if machine-labelled frames have not been refined (they are
        left out of the training set).

    Returns
    -------
    MergeReport
        Whether it merged, the new iteration and, per folder, the images the
        next ``create_training_dataset`` includes (also printed).

    Warns
    -----
    MergeRefusedWarning
        When it does not merge, with the report (so the reason shows even if
        the call is not the last line of a notebook cell).
    """
    project = Project.open(config)
    stems = [s for s in project.labeled_data_stems() if not s.startswith(".")]
    folders = [_folder_status(project, s) for s in stems]
    old = project.iteration
    problems = []
    for f in folders:
        if f.empty:
            continue
        if not f.has_collected_data:
            problems.append(
                f"'{f.stem}' has no CollectedData_{project.scorer}: label it "
                f"(label_frames) or refine it (refine_labels)."
            )
        if f.unrefined and not allow_unrefined:
            problems.append(
                f"'{f.stem}' has {len(f.unrefined)} machine-labelled frame(s) not refined yet "
                f"(e.g. {f.unrefined[0]}): refine_labels(config, {f.stem!r}), or pass "
                "allow_unrefined=True to leave them out of the training set."
            )
    if not any(not f.empty for f in folders):
        problems.append(f"No labeled data in '{project.labeled_data_dir}'.")
    last = _last_merge(project)
    if not problems and not forceiterate and last and last.get("labels") == _labels_fingerprint(folders):
        problems.append(
            f"Nothing new since the last merge (iteration {last.get('from_iteration')} -> {old}, "
            f"{last.get('merged_at')}): no label was added or changed. Label or refine new frames "
            "first (extract_outlier_frames, then refine_labels), or pass forceiterate=<N> to set "
            "the iteration anyway."
        )
    if problems:
        report = MergeReport(False, old, old, folders, problems)
        warnings.warn(report.summary(), MergeRefusedWarning, stacklevel=2)
        return report
    new = int(forceiterate) if forceiterate else old + 1
    from posekit.project.config import edit_config

    edit_config(project.config_path, {"iteration": new})
    _write_last_merge(project, old, new, folders)
    report = MergeReport(True, old, new, folders)
    print(report.summary())
    return report


def previous_iteration_snapshot(
    config: str | os.PathLike | Project, shuffle: int = 1, trainingsetindex: int = 0
) -> Path:
    """The newest snapshot of the last earlier iteration that has one, to start training from.

    After ``merge_datasets`` and ``create_training_dataset``, pass it as
    ``train_network(config, init_weights=previous_iteration_snapshot(config))``
    so the new iteration starts from the previous network instead of ImageNet
    (what DeepLabCut users do by editing ``init_weights`` in pose_cfg.yaml).

    Raises
    ------
    FileNotFoundError
        If no earlier iteration has a snapshot for this shuffle and training fraction.
    """
    from posekit.train.snapshots import list_snapshots

    project = Project.open(config)
    fraction = project.training_fraction(trainingsetindex)
    for iteration in range(project.iteration - 1, -1, -1):
        found = list_snapshots(project.model_dir(fraction, shuffle, iteration) / "train")
        if found:
            return found[-1][1]
    raise FileNotFoundError(
        f"No snapshot of shuffle {shuffle} (TrainingFraction {fraction}) in iterations "
        f"0..{project.iteration - 1} of '{project.root / 'dlc-models'}'; train with "
        "init_weights='imagenet' (the default) instead."
    )
