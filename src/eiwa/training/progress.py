"""The progress bar of a training run on a terminal: one bar per epoch, over its sentences."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class EpochBar:
    """Shows the running epoch (sentences done, mean loss, speed, best dev F1 so far); a context manager."""

    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("sentences"),
            TextColumn("loss {task.fields[loss]:.3f}  {task.fields[speed]:.0f} sent/s  dev F1 {task.fields[dev_f1]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> EpochBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self._progress.__exit__(*exc_info)

    def begin(self, epoch: int, sentences: int, best_dev_f1: float) -> None:
        best = f"{best_dev_f1:.4f}" if best_dev_f1 >= 0 else "-"
        self._task = self._progress.add_task("train", total=sentences, epoch=epoch, loss=0.0, speed=0.0, dev_f1=best)

    def advance(self, sentences: int, loss: float, speed: float) -> None:
        self._progress.update(self._task, advance=sentences, loss=loss, speed=speed)

    def end(self) -> None:
        self._progress.remove_task(self._task)
        self._task = None
