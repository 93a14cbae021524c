"""Command line: ``python -m posekit demo`` runs the workflow on the embedded default."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def demo(workdir: Path, n_frames: int, numframes2pick: int, seed: int) -> Path:
    """Create the synthetic project, extract frames (k-means), check labels; print paths."""
    from posekit.datasets import make_synthetic_project
    from posekit.project.project import Project
    from posekit.viz.check_labels import write_labeled_images

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
    for stem, result in write_labeled_images(project).items():
        print(f"check_labels:     {len(result.images)} images in {result.folder}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return project.config_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="posekit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="build the synthetic example project")
    p_demo.add_argument("--dir", type=Path, default=Path("posekit-demo"), help="working directory")
    p_demo.add_argument("--frames", type=int, default=300, help="video length")
    p_demo.add_argument("--numframes2pick", type=int, default=20)
    p_demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.dir, args.frames, args.numframes2pick, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
