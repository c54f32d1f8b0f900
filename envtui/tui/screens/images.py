"""Docker image archives: save an image to FILE.tar, load FILE.tar into the engine.

The transfer runs in a thread worker (`envtui.exchange.images`), reporting bytes as they
go; the bar shows them with the rate. Ctrl-C sets the cancel event: the save leaves no
partial archive (an existing file stays as it was) and the load stops before the engine
gets the last byte, so nothing is loaded.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState

from envtui.model import Environment
from envtui.tui.format import human_size, printable
from envtui.tui.widgets.confirm import ConfirmScreen
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.status_line import StatusLine, tilde_all

if TYPE_CHECKING:
    from envtui.exchange.images import LoadedImage, SavedImage

SAVE, LOAD = "save", "load"


def image_ref(env: Environment) -> str:
    """What to save an image by: its first tag, or its ID when it has none (dangling)."""
    return env.name if env.details.get("tags") else (env.id or env.name)


def archive_name(env: Environment) -> str:
    """The archive offered for an image: its name made a file name, in `./`."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", env.name).strip("-.") or "image"
    return f"./{stem}.tar"


class ImageArchiveModal(ModalScreen[bool]):
    """Ask for the archive, then save or load it with a progress bar. Dismissed with True
    when images were loaded (the inventory then rescans)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "cancel", "Cancel", tooltip="Stop the transfer; nothing is left "
                "behind", priority=True, id="image.cancel"),
        Binding("escape", "close", "Close", tooltip="Back to the inventory", id="image.close"),
    ]

    class Progressed(Message):
        """More bytes moved; a newer one replaces a stale one in the queue."""

        def __init__(self, phase: str, done: int, total: int | None) -> None:
            super().__init__()
            self.phase = phase
            """What the bytes are for: "saving", "checking" (the .sha256) or "loading"."""
            self.done = done
            self.total = total

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ImageArchiveModal.Progressed)

    class Finished(Message):
        """The transfer ended: a result, or an error line (`cancelled`: by Ctrl-C)."""

        def __init__(self, result: SavedImage | LoadedImage | None, error: str | None,
                     cancelled: bool = False) -> None:
            super().__init__()
            self.result = result
            self.error = error
            self.cancelled = cancelled

    def __init__(self, mode: str, *, ref: str = "", path: str = "",
                 home: str | None = None) -> None:
        super().__init__()
        self.mode = mode
        self.ref = ref
        self._path = path
        self._home = home
        self._busy = False
        self._loaded = False
        self._cancel = threading.Event()
        self._phase = ""
        self._phase_started = 0.0
        self._worker: Worker[None] | None = None
        self.result: SavedImage | LoadedImage | None = None
        """What the last transfer did (for tests and the status line)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="image-box"):
            title = (f"Save the image {printable(self.ref)} to a tar archive" if self.mode == SAVE
                     else "Load an image archive into Docker")
            yield Static(title, id="image-title", markup=False)
            with Horizontal(classes="form-row"):
                yield Label("file", classes="form-label")
                yield Input(self._path, id="image-path", compact=True,
                            placeholder="FILE.tar (Enter starts)")
            yield ProgressBar(id="image-progress", show_eta=False)
            yield StatusLine(id="image-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self.query_one("#image-path", Input).focus()
        what = "writes it and FILE.tar.sha256" if self.mode == SAVE else \
            "checks FILE.tar.sha256 if there is one, then loads it"
        self._status(f"Enter {what} · Ctrl-C cancels")

    @property
    def busy(self) -> bool:
        return self._busy

    def _status(self, *parts: str | tuple[str, str]) -> None:
        self.query_one("#image-status", StatusLine).show(*parts)

    # -- starting ------------------------------------------------------------------------

    @on(Input.Submitted, "#image-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        shown = event.value.strip()
        if self._busy or not shown:
            return
        path = Path(shown).expanduser()
        if self.mode == SAVE and path.exists() and not path.is_dir():
            def answered(yes: bool | None) -> None:
                if yes:
                    self._start(path, force=True)

            self.app.push_screen(ConfirmScreen(f"Replace {shown}?", "It exists; the new "
                                               "archive replaces it."), answered)
            return
        self._start(path, force=False)

    def _start(self, path: Path, *, force: bool) -> None:
        self._busy = True
        self._cancel.clear()
        self._phase = ""
        bar = self.query_one(ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.query_one("#image-path", Input).disabled = True
        self._status(("Saving… " if self.mode == SAVE else "Loading… ", "bold $text-accent"),
                     "Ctrl-C cancels")
        self.refresh_bindings()
        self._worker = self.transfer(path, force)

    @work(thread=True, exclusive=True, group="image", exit_on_error=False)
    def transfer(self, path: Path, force: bool) -> None:
        from envtui.exchange.images import Cancelled, ImageError, load_image, save_image, sidecar

        phases = ["saving"] if self.mode == SAVE else \
            (["checking", "loading"] if sidecar(path).exists() else ["loading"])
        passes = [0]  # each pass over the bytes starts by reporting 0

        def progress(done: int, total: int | None) -> None:
            if done == 0 and self.mode == LOAD:
                passes[0] += 1
            phase = phases[min(max(passes[0], 1), len(phases)) - 1]
            self.post_message(self.Progressed(phase, done, total))

        try:
            result: SavedImage | LoadedImage
            if self.mode == SAVE:
                result = save_image(self.ref, path, force=force, progress=progress,
                                    cancel=self._cancel)
            else:
                result = load_image(path, progress=progress, cancel=self._cancel)
        except Cancelled as e:
            self.post_message(self.Finished(None, str(e), cancelled=True))
        except ImageError as e:
            self.post_message(self.Finished(None, str(e)))
        else:
            self.post_message(self.Finished(result, None))

    # -- progress and the end ------------------------------------------------------------

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        if not self._busy:
            return
        now = time.monotonic()
        if message.phase != self._phase:
            self._phase, self._phase_started = message.phase, now
        # A save's total is the image's size, an estimate the archive may outgrow.
        total = message.total if message.total and message.done <= message.total else None
        self.query_one(ProgressBar).update(total=total, progress=message.done)
        amount = human_size(message.done) + (f" / {human_size(total)}" if total else "")
        elapsed = now - self._phase_started
        rate = f" · {human_size(int(message.done / elapsed))}/s" if elapsed > 0.2 else ""
        self._status((f"{message.phase.capitalize()}… ", "bold $text-accent"),
                     amount + rate, " · Ctrl-C cancels")

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        from envtui.exchange.images import LoadedImage, SavedImage

        self._busy = False
        self.result = message.result
        self._enable_path()
        bar = self.query_one(ProgressBar)
        self.refresh_bindings()
        if message.error is not None:
            bar.display = False
            error = tilde_all(message.error, self._home)
            if message.cancelled:
                self._status(("Cancelled: ", "bold $text-warning"), error)
            else:
                self._status(("Failed: ", "bold $text-error"), error)
                self.notify(error, title=f"Image {self.mode} failed", severity="error",
                            timeout=10, markup=False)
            return
        bar.update(total=max(bar.progress, 1), progress=max(bar.progress, 1))
        if isinstance(message.result, SavedImage):
            saved = message.result
            self._status(("Saved ", "bold $text-success"), (tilde_all(str(saved.path),
                                                                      self._home), "bold"),
                         f" ({human_size(saved.size)}, sha256 {saved.sha256[:12]}…)")
        elif isinstance(message.result, LoadedImage):
            self._loaded = True
            loaded = message.result
            names = loaded.tags or tuple(i.removeprefix("sha256:")[:12] for i in loaded.image_ids)
            self._status(("Loaded ", "bold $text-success"), printable(", ".join(names)),
                         " · Esc goes back and rescans")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure in the worker becomes an error line, never a crash."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        self._busy = False
        self._enable_path()
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self._status(("Failed: ", "bold $text-error"), text)
        self.notify(text, title=f"Image {self.mode} failed", severity="error", timeout=10,
                    markup=False)
        self.refresh_bindings()

    def _enable_path(self) -> None:
        # Disabling the field moved the focus away; Enter must work on it again.
        path = self.query_one("#image-path", Input)
        path.disabled = False
        path.focus()

    def action_cancel(self) -> None:
        if self._busy:
            self._cancel.set()
            self._status(("Cancelling… ", "bold $text-warning"), "nothing is left behind")

    def action_close(self) -> None:
        if self._busy:
            self.notify("Wait for it to finish, or press Ctrl-C to cancel.", markup=False)
            return
        self.dismiss(self._loaded)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self._busy
        return True

