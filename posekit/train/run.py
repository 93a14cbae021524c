"""A training run as a handle: run it in this thread or in the background, watch it, stop it.

:class:`TrainingJob` drives one :class:`~posekit.train.trainer.Trainer`. Whoever wants
to follow it (the training widget, a script printing progress) subscribes a listener
that is called with the :class:`~posekit.train.trainer.Progress` after every logged step
and on every change of state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from posekit.train.trainer import Progress, Trainer

__all__ = ["TrainingJob"]

Listener = Callable[[Progress], None]


class TrainingJob:
    """One training run of a :class:`~posekit.train.trainer.Trainer`.

    Parameters
    ----------
    trainer
        The configured trainer (it resumes from its newest snapshot).

    Attributes
    ----------
    trainer : Trainer
    error : BaseException or None
        What a background run raised (the progress state is then ``failed``).
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.error: BaseException | None = None
        self._listeners: list[Listener] = []
        self._thread: threading.Thread | None = None

    @property
    def progress(self) -> Progress:
        """Step, state, loss history, images/s and snapshots so far."""
        return self.trainer.progress

    @property
    def running(self) -> bool:
        """Whether a background run is in progress."""
        return self._thread is not None and self._thread.is_alive()

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(progress)`` after each logged step and on each change of state."""
        self._listeners.append(listener)

    def run(self) -> Progress:
        """Train in this thread until ``maxiters`` or :meth:`stop`; errors propagate."""
        try:
            return self.trainer.run(callback=self._notify, on_state=self._notify)
        finally:
            self._notify(self.progress)

    def start(self) -> TrainingJob:
        """Train in a background thread (no-op while one runs); returns ``self``."""
        if not self.running:
            self.error = None
            self._thread = threading.Thread(target=self._run_in_background, name="posekit-train", daemon=True)
            self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> Progress:
        """Block until a background run ends (or ``timeout`` seconds pass).

        Raises
        ------
        BaseException
            What the background run raised, if it failed.
        """
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None and not self.running:
            raise self.error
        return self.progress

    def stop(self) -> None:
        """Stop after the current step; a snapshot is saved, and a new call resumes from it."""
        self.trainer.stop()

    def _run_in_background(self) -> None:
        try:
            self.run()
        except BaseException as err:  # noqa: BLE001 - kept for wait(); the state says "failed"
            self.error = err

    def _notify(self, progress: Progress) -> None:
        for listener in list(self._listeners):
            listener(progress)

    def __repr__(self) -> str:
        return f"TrainingJob({self.progress.describe()})"
