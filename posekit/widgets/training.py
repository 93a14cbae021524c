"""Training progress: a progress bar, the loss curve and Stop, over a running Trainer."""

from __future__ import annotations

import threading

import ipywidgets as W

from posekit.train.trainer import Progress, Trainer


class TrainingWidget(W.VBox):
    """Run a :class:`~posekit.train.trainer.Trainer` in a background thread and show it.

    The notebook stays usable while training; "Stop" ends the run after the
    current step and writes a snapshot, so ``train_network`` resumes from there.

    Parameters
    ----------
    trainer
        The training run to drive.
    start
        Start training at once.
    """

    def __init__(self, trainer: Trainer, start: bool = True) -> None:
        self.trainer = trainer
        self.bar = W.IntProgress(min=0, max=trainer.maxiters, value=trainer.progress.step,
                                 description="Iteration", layout=W.Layout(width="420px"))
        self.status = W.HTML()
        self.loss = W.Image(format="png", layout=W.Layout(width="405px"))
        self.stop_button = W.Button(description="Stop", icon="stop", tooltip="Stop after this step and save a snapshot")
        self.stop_button.on_click(lambda _b: self.trainer.stop())
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._figure = None
        super().__init__(children=[W.HBox([self.bar, self.stop_button]), self.status, self.loss])
        self.add_class("posekit-training")
        self._show(trainer.progress)
        if start:
            self.start()

    def start(self) -> None:
        """Start (or continue) training in a background thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="posekit-train", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> Progress:
        """Block until the run ends (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.trainer.progress

    def _run(self) -> None:
        try:
            self.trainer.run(callback=self._show)
        except BaseException as err:  # noqa: BLE001 - shown in the widget, kept for callers
            self.error = err
            self.status.value = f"<b style='color:#b00'>Training failed:</b> {err}"
            return
        self._show(self.trainer.progress)

    def _show(self, progress: Progress) -> None:
        self.bar.value = progress.step
        state = "finished" if progress.finished else "running"
        last = progress.history[-1] if progress.history else None
        loss = f"loss {last[1]:.5f}, lr {last[2]:g}, " if last else ""
        snaps = ", ".join(p.stem for p in progress.snapshots) or "none yet"
        eta = ""
        if not progress.finished and progress.images_per_second > 0:
            seconds = (progress.maxiters - progress.step) * self.trainer.batch_size / progress.images_per_second
            eta = f", ETA {int(seconds // 60)} min {int(seconds % 60)} s"
        self.status.value = (
            f"{state}: iteration {progress.step}/{progress.maxiters}, {loss}"
            f"{progress.images_per_second:.1f} images/s{eta}<br>snapshots: {snaps}"
        )
        if progress.history:
            self._plot(progress)

    def _plot(self, progress: Progress) -> None:
        """Render the loss curve to PNG (works whatever matplotlib backend is active)."""
        import io

        from matplotlib.figure import Figure

        steps, losses, _ = zip(*progress.history, strict=True)
        if self._figure is None:
            self._figure = Figure(figsize=(4.5, 2.8), dpi=90)
        fig = self._figure
        fig.clear()
        ax = fig.add_subplot()
        ax.plot(steps, losses, color="tab:blue")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.loss.value = buffer.getvalue()
