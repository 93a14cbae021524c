"""Command line: ``python -m posekit demo`` runs the whole workflow on the embedded default."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

#: A CPU-sized training budget for the demo: a narrow ResNet-18 trained from scratch
#: with Adam reaches a few pixels of error on the synthetic animal in about a minute.
DEMO_POSE_CFG = {
    "backbone_features": 16,
    "optimizer": "adam",
    "multi_step": [[0.001, 100000]],
    "global_scale": 1.0,
    "scale_jitter_lo": 0.8,
    "scale_jitter_up": 1.2,
    "batch_size": 8,
}


def demo(workdir: Path, n_frames: int, numframes2pick: int, seed: int, maxiters: int = 300) -> dict:
    """The whole workflow on the synthetic project; prints where everything is.

    Creates the project, extracts frames (k-means), checks labels, builds a training
    set, trains briefly on the CPU, evaluates, analyses the video, makes a labeled
    video and trajectory plots. Re-running reuses what exists.

    Returns
    -------
    dict
        ``config``, ``train_error``/``test_error`` (px), ``video_error`` (px, mean over
        the video's frames against the exact keypoints) and the output paths.
    """
    import numpy as np

    from posekit.dataset.create import create_training_dataset
    from posekit.datasets import make_synthetic_project, synthetic_keypoints
    from posekit.predict.analyze import analyze_videos
    from posekit.predict.evaluate import evaluate_network
    from posekit.predict.results import find_analysis_file, read_poses
    from posekit.project.config import edit_config
    from posekit.project.project import Project
    from posekit.train.trainer import Trainer
    from posekit.viz.check_labels import write_labeled_images
    from posekit.viz.labeled_video import create_labeled_video
    from posekit.viz.trajectories import plot_trajectories

    t0 = time.perf_counter()
    config = make_synthetic_project(
        workdir, n_frames=n_frames, numframes2pick=numframes2pick, seed=seed
    )
    project = Project.open(config)
    print(f"project:          {project.root}")
    print(f"config:           {project.config_path}")
    for stem in project.video_stems():
        frames = project.frame_images(stem)
        print(f"video:            {project.video_path(stem)}")
        print(f"extracted frames: {len(frames)} in {project.labeled_folder(stem)} (k-means)")
        print(f"labels:           {project.collected_data_path(stem)} (+ .csv)")
    for result in write_labeled_images(project).values():
        print(f"check_labels:     {len(result.images)} images in {result.folder}")

    if project.cfg["TrainingFraction"] != [0.8]:
        edit_config(config, {"TrainingFraction": [0.8]})
    try:
        create_training_dataset(config, net_type="resnet_18", seed=seed, pose_cfg_overrides=DEMO_POSE_CFG)
    except FileExistsError:
        pass  # re-run: keep the shuffle and its snapshots
    trainer = Trainer(config, pretrained=False, maxiters=maxiters, displayiters=50,
                      saveiters=maxiters, crop_size=(128, 128), seed=seed)
    progress = trainer.run(callback=lambda p: print(
        f"training:         iteration {p.step}/{p.maxiters}, loss {p.history[-1][1]:.4f}, "
        f"{p.images_per_second:.0f} images/s", flush=True))
    print(f"snapshots:        {', '.join(str(p) for p in progress.snapshots)}")
    results = evaluate_network(config)
    row = results.table.iloc[-1]
    train_error, test_error = float(row[" Train error(px)"]), float(row[" Test error(px)"])
    print(f"evaluation:       train error {train_error:.2f} px, test error {test_error:.2f} px")
    video = project.video_path(project.video_stems()[0])
    scorer = analyze_videos(config, [video], save_as_csv=True)
    h5 = find_analysis_file(video, shuffle=1, scorer=scorer)
    predicted = read_poses(h5).to_numpy().reshape(-1, len(project.bodyparts), 3)
    truth = synthetic_keypoints(len(predicted))
    video_error = float(np.nanmean(np.linalg.norm(predicted[..., :2] - truth, axis=-1)))
    print(f"analysis:         {h5} ({len(predicted)} frames, mean error {video_error:.2f} px vs. truth)")
    (labeled,) = create_labeled_video(config, [video], draw_skeleton=True) or [None]
    print(f"labeled video:    {labeled or 'already there'}")
    plots = plot_trajectories(config, [video])
    for result in plots.values():
        print(f"trajectories:     {result.folder}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return {"config": project.config_path, "train_error": train_error, "test_error": test_error,
            "video_error": video_error, "analysis": h5, "labeled_video": labeled}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="posekit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="build the synthetic example project")
    p_demo.add_argument("--dir", type=Path, default=Path("posekit-demo"), help="working directory")
    p_demo.add_argument("--frames", type=int, default=300, help="video length")
    p_demo.add_argument("--numframes2pick", type=int, default=40)
    p_demo.add_argument("--maxiters", type=int, default=300, help="training iterations")
    p_demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.dir, args.frames, args.numframes2pick, args.seed, args.maxiters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
