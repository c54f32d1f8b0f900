"""Exporting one environment: pick a format and a file, see the text, write it.

The text is made by `envtui.exchange.export.export_text` in a thread worker (a conda
environment's records are read from disk, a pylock export may look packages up in an
index) and kept per choice of options, so switching formats back and forth is instant and
what is written is exactly what was previewed. Writing goes through a temp file and a
rename (`write_atomically`); an existing file is replaced only after a question whose
default is No.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Checkbox, Header, Input, Label, RadioButton, RadioSet, Static
from textual.worker import Worker, WorkerState

from envtui.format import plural
from envtui.model import Environment
from envtui.tui.commands import ExportCommands
from envtui.tui.format import printable, short_ref, shown_name
from envtui.tui.widgets.confirm import ConfirmScreen
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.status_line import StatusLine, tilde_all

if TYPE_CHECKING:
    from envtui.exchange.spec import EnvSpec
    from envtui.resolver.sources import IndexOptions, Source

FILE_NAMES: dict[str, str] = {
    "environment-yml": "environment.yml",
    "requirements": "requirements.txt",
    "conda-lock": "conda-lock.yml",
    "pylock": "pylock.toml",
}
"""Each format's usual file name: the button label and the default file (in `./`)."""

Choice = tuple[str, bool, bool]
"""(format, with builds, from history): what the text depends on."""


def default_path(fmt: str) -> str:
    """The file offered for `fmt`: its usual name in the current directory."""
    return f"./{FILE_NAMES[fmt]}"


class ExportScreen(Screen[None]):
    """Format and options, the file to write, and a live preview of its text."""

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ExportCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "write_file", "Write", tooltip="Write the file (asks before "
                "replacing one)", priority=True, id="export.write"),
        Binding("escape", "go_back", "Back", tooltip="Back to the inventory", id="export.back"),
    ]

    class PreviewReady(Message):
        """The text of one choice, or why there is none."""

        def __init__(self, choice: Choice, text: str, notes: list[str],
                     error: str | None) -> None:
            super().__init__()
            self.choice = choice
            self.text = text
            self.notes = notes
            self.error = error

    class Written(Message):
        """A write ended: `error` is None on success."""

        def __init__(self, shown: str, choice: Choice, error: str | None) -> None:
            super().__init__()
            self.shown = shown
            """The path as the user typed it."""
            self.choice = choice
            self.error = error

    def __init__(self, env: Environment, *, home: str | None = None,
                 options: IndexOptions | None = None) -> None:
        super().__init__()
        self.env = env
        self._home = home
        self._options = options
        self._spec: EnvSpec | None = None  # read once, in the first worker
        self._texts: dict[Choice, tuple[str, list[str], str | None]] = {}
        self._writing = False
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Content.assemble(("Export ", "bold"), (shown_name(self.env), "bold"),
                                      "  ", (short_ref(self.env, self._home), "$text-muted")),
                     id="export-heading")
        with Horizontal(id="export-choices"):
            formats = RadioSet(*(RadioButton(name, value=fmt == "environment-yml", id=f"fmt-{fmt}")
                                 for fmt, name in FILE_NAMES.items()), id="export-format")
            formats.border_title = "Format"
            yield formats
            with Vertical(id="export-options") as options:
                options.border_title = "environment.yml options"
                yield Checkbox("with build strings (same OS only)", id="export-builds")
                yield Checkbox("from history (only what was asked for)", id="export-history")
        with Horizontal(classes="form-row"):
            yield Label("write to", classes="form-label")
            yield Input(default_path("environment-yml"), id="export-path", compact=True)
        yield StatusLine(id="export-status")
        with VerticalScroll(id="export-preview") as preview:
            preview.border_title = "Preview"
            yield Static(id="export-text", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"export · {shown_name(self.env)}"
        if self._options is None:
            self._options = getattr(self.app, "index_options", None)
        self.query_one("#export-format", RadioSet).focus()
        self._show_choice()

    # -- what is chosen ----------------------------------------------------------------

    @property
    def choice(self) -> Choice:
        """The format and options chosen now."""
        fmt = self.format
        yml = fmt == "environment-yml"
        return (fmt, yml and self.query_one("#export-builds", Checkbox).value,
                yml and self.query_one("#export-history", Checkbox).value)

    @property
    def format(self) -> str:
        pressed = self.query_one("#export-format", RadioSet).pressed_button
        return (pressed.id or "fmt-environment-yml").removeprefix("fmt-") if pressed else \
            "environment-yml"

    @property
    def writing(self) -> bool:
        """Whether a write is under way."""
        return self._writing

    @property
    def status_text(self) -> str:
        return self.query_one("#export-status", StatusLine).text

    @property
    def file_names(self) -> dict[str, str]:
        """Each format's usual file name (for the palette)."""
        return FILE_NAMES

    @property
    def path_text(self) -> str:
        return self.query_one("#export-path", Input).value

    @property
    def preview_text(self) -> str | None:
        """The text the current choice writes, once made (None before, or on an error)."""
        made = self._texts.get(self.choice)
        return made[0] if made and made[2] is None else None

    def choose_format(self, fmt: str) -> None:
        """Select `fmt` (the palette's `export: FORMAT`)."""
        self.query_one(f"#fmt-{fmt}", RadioButton).value = True

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        old = {default_path(f) for f in FILE_NAMES}
        path = self.query_one("#export-path", Input)
        if path.value in old:  # still the offered name: follow the format
            path.value = default_path(self.format)
        self._show_choice()

    @on(Checkbox.Changed)
    def _option_changed(self, event: Checkbox.Changed) -> None:
        self._show_choice()

    def _show_choice(self) -> None:
        yml = self.format == "environment-yml"
        for box in self.query(Checkbox):
            box.disabled = not yml
        made = self._texts.get(self.choice)
        if made is None:
            self._status(("Making the preview… ", "bold $text-accent"))
            self.query_one("#export-text", Static).update("")
            self.make_preview(self.choice)
        else:
            self._show_text(*made)

    # -- the preview -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="export-preview", exit_on_error=False)
    def make_preview(self, choice: Choice) -> None:
        text, notes, error = self._export(choice)
        self.post_message(self.PreviewReady(choice, text, notes, error))

    def _export(self, choice: Choice) -> tuple[str, list[str], str | None]:
        """Called in the workers' threads: the text, the notes, and an error line."""
        from envtui.exchange.export import export_text
        from envtui.exchange.spec import ExchangeError, from_environment

        fmt, builds, history = choice
        try:
            if self._spec is None:
                self._spec = from_environment(self.env)
            text, notes = export_text(self._spec, fmt, builds=builds, from_history=history,
                                      sources=self._sources() if fmt == "pylock" else ())
        except ExchangeError as e:
            return "", [], str(e)
        return text, list(notes), None

    def _sources(self) -> list[Source]:
        """Where a pylock export looks up each package's file (app's or pip's options)."""
        from envtui.inspectors.base import ScanContext
        from envtui.resolver.pipconfig import build_sources, index_options

        cache = ScanContext.from_process().cache_dir
        return list(build_sources(self._options or index_options(), cache))

    @on(PreviewReady)
    def _preview_ready(self, message: PreviewReady) -> None:
        self._texts[message.choice] = (message.text, message.notes, message.error)
        if message.choice == self.choice and not self._writing:
            self._show_text(message.text, message.notes, message.error)
        self.refresh_bindings()

    def _show_text(self, text: str, notes: list[str], error: str | None) -> None:
        shown = self.query_one("#export-text", Static)
        if error is not None:
            shown.update("")
            self._status(("Cannot export: ", "bold $text-error"), tilde_all(error, self._home))
            return
        shown.update(Content("\n".join(printable(line) for line in text.splitlines())))
        lines = text.count("\n")
        parts: list[str | tuple[str, str]] = [
            (f"{plural(lines, 'line')}", "bold"), " · ctrl+s writes ",
            (printable(self.path_text), "bold")]
        for note in notes:
            parts += ["  ", ("note: ", "$text-warning"), tilde_all(note, self._home)]
        self._status(*parts)

    def _status(self, *parts: str | tuple[str, str]) -> None:
        self.query_one("#export-status", StatusLine).show(*parts)

    # -- writing -------------------------------------------------------------------------

    @on(Input.Submitted, "#export-path")
    def _path_submitted(self) -> None:
        self.action_write_file()

    def action_write_file(self) -> None:
        """Write the chosen text to the path; ask first if that replaces a file."""
        shown = self.path_text.strip()
        if self._writing:
            return
        if not shown:
            self._status(("Give a file to write", "bold $text-error"))
            return
        path = Path(shown).expanduser()
        if path.is_dir():
            self._status((f"{printable(shown)}: is a directory", "bold $text-error"))
            return
        choice = self.choice
        if path.exists():
            def answered(yes: bool | None) -> None:
                if yes:
                    self._write(shown, path, choice)

            self.app.push_screen(ConfirmScreen(f"Replace {shown}?", "It exists; the new "
                                               "text replaces it."), answered)
        else:
            self._write(shown, path, choice)

    def _write(self, shown: str, path: Path, choice: Choice) -> None:
        self._writing = True
        self._status(("Writing ", "bold $text-accent"), printable(shown), "…")
        self.refresh_bindings()
        self._worker = self.write_export(shown, path.absolute(), choice)

    @work(thread=True, exclusive=True, group="export-write", exit_on_error=False)
    def write_export(self, shown: str, path: Path, choice: Choice) -> None:
        from envtui.exchange.files import write_atomically
        from envtui.exchange.spec import ExchangeError

        made = self._texts.get(choice)
        text, _notes, error = made if made is not None else self._export(choice)
        if error is None:
            try:
                write_atomically(path, text)
            except ExchangeError as e:
                error = str(e)
        self.post_message(self.Written(shown, choice, error))

    @on(Written)
    def _written(self, message: Written) -> None:
        self._writing = False
        self.refresh_bindings()
        if message.error is not None:
            error = tilde_all(message.error, self._home)
            self._status(("Not written: ", "bold $text-error"), error)
            self.notify(error, title="Export failed", severity="error", timeout=10,
                        markup=False)
            return
        packages = len(self._spec.pins) if self._spec else 0
        fmt = FILE_NAMES[message.choice[0]]
        self._status(("Wrote ", "bold $text-success"), (printable(message.shown), "bold"),
                     f" ({fmt}, {plural(packages, 'package')}) · Esc goes back")
        self.notify(f"Wrote {printable(message.shown)}", title=shown_name(self.env),
                    markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure in a worker becomes an error line, never a crash."""
        if event.state is not WorkerState.ERROR:
            return
        self._writing = False
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self._status(("Failed: ", "bold $text-error"), text)
        self.notify(text, title="Export failed", severity="error", timeout=10, markup=False)
        self.refresh_bindings()

    def action_go_back(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "write_file":
            return True if not self._writing else None
        return True
