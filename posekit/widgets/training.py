"""Training progress: a progress bar, the loss curve and Stop, over a :class:`~posekit.train.run.TrainingJob`."""

from __future__ import annotations

import html

import ipywidgets as W

from posekit.train.run import TrainingJob
from posekit.train.trainer import Progress


class TrainingWidget(W.VBox):
    """Show a :class:`~posekit.train.run.TrainingJob`: progress bar, state, loss curve, Stop.

    The widget only renders the run's :class:`~posekit.train.trainer.Progress`
    (what it is doing: compiling, running, stopped, finished, failed); "Stop"
    ends the run after the current step and writes a snapshot, so
    ``train_network`` resumes from there.

    Parameters
    ----------
    run
        The training run to show (usually started in the background).
    """

    def __init__(self, run: TrainingJob) -> None:
        self.run = run
        trainer = run.trainer
        self.bar = W.IntProgress(min=0, max=trainer.maxiters, value=trainer.progress.step,
                                 description="Iteration", layout=W.Layout(width="420px"))
        self.status = W.HTML()
        self.status.add_class("posekit-training-status")
        # Hidden until the first loss point: an Image with no data shows a broken-image icon.
        self.loss = W.Image(format="png", layout=W.Layout(width="405px", display="none"))
        self.loss.add_class("posekit-training-loss")
        self.stop_button = W.Button(description="Stop", icon="stop", tooltip="Stop after this step and save a snapshot")
        self.stop_button.add_class("posekit-training-stop")
        self.stop_button.on_click(lambda _b: self.run.stop())
        self._figure = None
        self._plotted = 0
        super().__init__(children=[W.HBox([self.bar, self.stop_button]), self.status, self.loss])
        self.add_class("posekit-training")
        run.subscribe(self._show)
        self._show(run.progress)

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
