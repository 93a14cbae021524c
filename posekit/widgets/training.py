"""Training progress: a progress bar, the loss curve and Stop, over a running Trainer."""

from __future__ import annotations

import html
import threading

import ipywidgets as W

from posekit.train.trainer import Progress, Trainer


class TrainingWidget(W.VBox):
    """Run a :class:`~posekit.train.trainer.Trainer` in a background thread and show it.

    The notebook stays usable while training; "Stop" ends the run after the
    current step and writes a snapshot, so ``train_network`` resumes from there.
    What the run is doing (compiling, running, stopped, finished, failed) is
    the trainer's :attr:`~posekit.train.trainer.Progress.state`; this widget
    only renders it.

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
        self.status.add_class("posekit-training-status")
        # Hidden until the first loss point: an Image with no data shows a broken-image icon.
        self.loss = W.Image(format="png", layout=W.Layout(width="405px", display="none"))
        self.loss.add_class("posekit-training-loss")
        self.stop_button = W.Button(description="Stop", icon="stop", tooltip="Stop after this step and save a snapshot")
        self.stop_button.add_class("posekit-training-stop")
        self.stop_button.on_click(lambda _b: self.trainer.stop())
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._figure = None
        self._plotted = 0
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
            self.trainer.run(callback=self._show, on_state=self._show)
        except BaseException as err:  # noqa: BLE001 - the trainer's state says "failed"; kept for callers
            self.error = err
        self._show(self.trainer.progress)

    def _show(self, progress: Progress) -> None:
        self.bar.value = progress.step
        self.bar.bar_style = {"failed": "danger", "finished": "success", "stopped": "warning"}.get(progress.state, "")
        ended = progress.state in ("stopped", "finished", "failed")
        self.stop_button.disabled = ended
        text = html.escape(progress.describe())
        if progress.state == "failed":
            text = f"<b style='color:#b00'>{text}</b>"
        snaps = ", ".join(p.stem for p in progress.snapshots) or "none yet"
        self.status.value = f"{text}<br>snapshots: {snaps}"
        if len(progress.history) != self._plotted:
            self._plot(progress)

    def _plot(self, progress: Progress) -> None:
        """Render the loss curve to PNG (works whatever matplotlib backend is active)."""
        import io

        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        steps, losses, _ = zip(*progress.history, strict=True)
        if self._figure is None:
            self._figure = Figure(figsize=(4.5, 2.8), dpi=90)
        fig = self._figure
        fig.clear()
        ax = fig.add_subplot()
        ax.plot(steps, losses, color="tab:blue", marker="o" if len(steps) == 1 else None)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations: no "0.96, 0.98…" around one point
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.loss.value = buffer.getvalue()
        self.loss.layout.display = None
        self._plotted = len(progress.history)
