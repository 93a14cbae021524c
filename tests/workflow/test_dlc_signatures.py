"""DeepLabCut's commands run as printed: positional order, documented keywords, and the protocol's calls.

``DLC_ORDER`` is DeepLabCut 2.3's positional parameter order of each verb (from its
documented signatures); every posekit verb must start with exactly those names, so a
positional call lands where DeepLabCut would put it. ``CALL_FORMS`` are call forms from
DeepLabCut's docs and protocol, bound against our signatures; the three commands the
protocol prints that used to raise TypeError are also run for real.
"""

from __future__ import annotations

import inspect
import warnings

import pytest

import posekit
from posekit.workflow.dlc_compat import IgnoredKeywordWarning

C, V = "config.yaml", ["videos/reach.mp4"]

DLC_ORDER = {
    "create_new_project": ["project", "experimenter", "videos", "working_directory", "copy_videos", "videotype",
                           "multianimal", "individuals"],
    "add_new_videos": ["config", "videos", "copy_videos", "coords", "extract_frames"],
    "extract_frames": ["config", "mode", "algo", "crop", "userfeedback", "cluster_step", "cluster_resizewidth",
                       "cluster_color", "opencv", "slider_width", "config3d", "extracted_cam", "videos_list"],
    "label_frames": ["config", "multiple_individualsGUI", "imtypes", "config3d", "sourceCam", "jump_unlabeled"],
    "check_labels": ["config", "Labels", "scale", "dpi", "draw_skeleton", "visualizeindividuals"],
    "create_training_dataset": ["config", "num_shuffles", "Shuffles", "windows2linux", "userfeedback",
                                "trainIndices", "testIndices", "net_type", "augmenter_type", "posecfg_template"],
    "train_network": ["config", "shuffle", "trainingsetindex", "max_snapshots_to_keep", "displayiters",
                      "saveiters", "maxiters", "allow_growth", "gputouse", "autotune", "keepdeconvweights",
                      "modelprefix"],
    "evaluate_network": ["config", "Shuffles", "trainingsetindex", "plotting", "show_errors",
                         "comparisonbodyparts", "gputouse", "rescale", "modelprefix"],
    "analyze_videos": ["config", "videos", "videotype", "shuffle", "trainingsetindex", "gputouse", "save_as_csv",
                       "in_random_order", "destfolder", "batchsize", "cropping", "TFGPUinference", "dynamic",
                       "modelprefix", "robust_nframes", "allow_growth", "use_shelve", "auto_track", "n_tracks",
                       "calibrate", "identity_only", "use_openvino"],
    "filterpredictions": ["config", "video", "videotype", "shuffle", "trainingsetindex", "filtertype",
                          "windowlength", "p_bound", "ARdegree", "MAdegree", "alpha", "save_as_csv", "destfolder",
                          "modelprefix", "track_method"],
    "create_labeled_video": ["config", "videos", "videotype", "shuffle", "trainingsetindex", "filtered",
                             "fastmode", "save_frames", "keypoints_only", "Frames2plot", "displayedbodyparts",
                             "displayedindividuals", "codec", "outputframerate", "destfolder", "draw_skeleton",
                             "trailpoints", "displaycropped", "color_by", "modelprefix", "init_weights",
                             "track_method", "superanimal_name", "pcutoff", "skeleton", "skeleton_color",
                             "dest_folder"],
    "plot_trajectories": ["config", "videos", "videotype", "shuffle", "trainingsetindex", "filtered",
                          "displayedbodyparts", "displayedindividuals", "showfigures", "destfolder", "modelprefix",
                          "imagetype", "resolution", "linewidth", "track_method", "pcutoff"],
    "analyze_time_lapse_frames": ["config", "directory", "frametype", "shuffle", "trainingsetindex", "gputouse",
                                  "save_as_csv", "modelprefix"],
    "extract_outlier_frames": ["config", "videos", "videotype", "shuffle", "trainingsetindex", "outlieralgorithm",
                               "frames2use", "comparisonbodyparts", "epsilon", "p_bound", "ARdegree", "MAdegree",
                               "alpha", "extractionalgorithm", "automatic", "cluster_resizewidth", "cluster_color",
                               "opencv", "savelabeled", "copy_videos", "destfolder", "modelprefix", "track_method"],
    "refine_labels": ["config", "multianimal"],
    "merge_datasets": ["config", "forceiterate"],
}

# (verb, args, kwargs): forms from DeepLabCut's docs and protocol.
CALL_FORMS = [
    ("create_new_project", ("Reaching", "Mackenzie", V), {"working_directory": ".", "copy_videos": True}),
    ("add_new_videos", (C, V), {"copy_videos": False}),
    ("extract_frames", (C, "automatic", "uniform"), {"crop": True, "checkcropping": True}),
    ("extract_frames", (C, "automatic", "kmeans"), {"userfeedback": False, "crop": False}),
    ("extract_frames", (C, "manual"), {}),
    ("label_frames", (C,), {}),
    ("check_labels", (C,), {"visualizeindividuals": False}),
    ("create_training_dataset", (C,), {"augmenter_type": "imgaug"}),
    ("create_training_dataset", (C, 1), {"Shuffles": [1], "net_type": "resnet_50"}),
    ("train_network", (C,), {"shuffle": 1, "trainingsetindex": 0, "gputouse": None, "max_snapshots_to_keep": 5,
                             "autotune": False, "displayiters": None, "saveiters": None}),
    ("train_network", (C, 1), {"displayiters": 100, "saveiters": 15000, "maxiters": 30000, "allow_growth": True}),
    ("evaluate_network", (C,), {"shuffle": [1], "plotting": True}),
    ("evaluate_network", (C,), {"Shuffles": [1], "plotting": True, "gputouse": None}),
    ("evaluate_network", (C, [1, 2]), {"snapshots_to_evaluate": "all"}),
    ("analyze_videos", (C, V), {"videotype": ".mp4", "save_as_csv": True, "gputouse": None}),
    ("analyze_videos", (C, V, ".avi"), {"shuffle": 1, "destfolder": "out", "batchsize": 8, "dynamic": (False, .5, 10)}),
    ("analyze_videos", (C, V), {"video_extensions": ".mp4", "TFGPUinference": True}),
    ("filterpredictions", (C, V), {"videotype": ".mp4", "filtertype": "arima", "p_bound": 0.01}),
    ("create_labeled_video", (C, V), {"videotype": ".mp4", "filtered": True, "draw_skeleton": True,
                                      "trailpoints": 5, "displayedbodyparts": ["Hand"]}),
    ("create_labeled_video", (C, V, ".mp4"), {"save_frames": False, "destfolder": "out", "codec": "mp4v"}),
    ("plot_trajectories", (C, V), {"videotype": ".mp4", "filtered": True, "showfigures": False}),
    ("analyze_time_lapse_frames", (C, "frames/"), {"frametype": ".png", "save_as_csv": True}),
    ("extract_outlier_frames", (C, V), {"outlieralgorithm": "jump", "epsilon": 30, "automatic": True}),
    ("extract_outlier_frames", (C, V, ".mp4"), {"outlieralgorithm": "fitting", "extractionalgorithm": "uniform"}),
    ("refine_labels", (C,), {}),
    ("merge_datasets", (C,), {"forceiterate": 2}),
]


@pytest.mark.parametrize("verb", sorted(DLC_ORDER))
def test_positional_order_is_deeplabcuts(verb):
    params = [p for p in inspect.signature(getattr(posekit, verb)).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert [p.name for p in params][: len(DLC_ORDER[verb])] == DLC_ORDER[verb]


@pytest.mark.parametrize(("verb", "args", "kwargs"), CALL_FORMS,
                         ids=[f"{v}-{i}" for i, (v, _, _) in enumerate(CALL_FORMS)])
def test_documented_call_forms_bind(verb, args, kwargs):
    inspect.signature(getattr(posekit, verb)).bind(*args, **kwargs)


def test_every_public_verb_has_a_call_form():
    assert set(DLC_ORDER) - {"create_new_project"} <= {v for v, _, _ in CALL_FORMS} | {"create_new_project"}
    assert posekit.create_new_project is posekit.create_project


def test_tensorflow_keywords_are_noted_once_and_unusable_ones_refused(synthetic_copy):
    from posekit.workflow import dlc_compat

    dlc_compat._noted.discard(("create_training_dataset", "augmenter_type"))
    with pytest.warns(IgnoredKeywordWarning, match="augmenter_type='imgaug' has no effect"):
        posekit.create_training_dataset(synthetic_copy, augmenter_type="imgaug", seed=0, net_type="resnet_18")
    with warnings.catch_warnings():
        warnings.simplefilter("error", IgnoredKeywordWarning)  # once per verb and keyword
        dlc_compat.note_ignored("create_training_dataset", "test", augmenter_type="imgaug")
    with pytest.raises(ValueError, match=r"multianimal=True is not supported.*single-animal"):
        posekit.refine_labels(synthetic_copy, True)
    with pytest.raises(ValueError, match=r"dynamic must be DeepLabCut's triple.*its pcutoff 2 is not a number"):
        posekit.analyze_videos(synthetic_copy, [], dynamic=(True, 2, 10))
    with pytest.raises(ValueError, match=r"pcutoff=0.9 .*set `pcutoff` in config.yaml"):
        posekit.plot_trajectories(synthetic_copy, [], pcutoff=0.9)


def test_protocol_extract_frames_runs_as_printed(synthetic_copy):
    from posekit.project import Project, edit_config

    project = Project.open(synthetic_copy)
    stem = project.video_stems()[0]
    for image in project.frame_images(stem):
        image.unlink()
    edit_config(synthetic_copy, {"video_sets": {project.video_key(stem): {"crop": "10, 110, 20, 100"}}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IgnoredKeywordWarning)
        result = posekit.extract_frames(synthetic_copy, "automatic", "uniform", crop=True, checkcropping=True)
    assert len(result[stem].written) == 8


def test_protocol_train_and_evaluate_run_as_printed(predict_project_copy, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IgnoredKeywordWarning)
        run = posekit.train_network(predict_project_copy, shuffle=1, trainingsetindex=0, gputouse=None,
                                    max_snapshots_to_keep=5, autotune=False, displayiters=None, saveiters=None)
        assert run.progress.state == "finished"
        report = posekit.evaluate_network(predict_project_copy, shuffle=[1], plotting=True)
    assert len(report.table) == 1 and report.evaluations[0].labeled_folder.is_dir()
    assert "train error" in capsys.readouterr().out
