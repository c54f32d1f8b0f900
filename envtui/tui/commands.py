"""Command palette providers, one per domain: environments ("env: rescan", "show: NAME"),
dependency trees ("tree: NAME", "tree: reverse"), problems ("problems: all"), fixes
("fix: NAME", "fix: apply", "fix: undo"), and sharing: export ("export: NAME",
"export: requirements.txt"), import ("import: file"), diff ("diff: NAME") and Docker image
archives ("image: save NAME", "image: load").

Each provider talks to whichever screen opened the palette through a small protocol, so it
does not import the screens (no import cycle) and offers nothing on screens that do not
implement it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from envtui.model import Environment, EnvKind, Problem
from envtui.tui.format import short_ref, shown_name


@runtime_checkable
class EnvironmentCommandTarget(Protocol):
    """What a screen offers to the environment commands."""

    @property
    def environments(self) -> Sequence[Environment]:
        """Every environment shown, in inventory order (the last finished scan's, or those
        the running scan has read so far)."""
        ...

    @property
    def scan_problems(self) -> Sequence[Problem]:
        """The problems with the last finished scan itself."""
        ...

    @property
    def home(self) -> str | None:
        """The home directory, written `~` in paths."""
        ...

    def action_rescan_inventory(self) -> None:
        """Start a new scan, cancelling a running one."""

    def action_focus_filter(self) -> None:
        """Put the focus in the filter input."""

    def action_show_scan_problems(self) -> None:
        """Show every problem with the scan itself in full."""

    def show_environment(self, env: Environment) -> None:
        """Highlight `env` in the table (clearing the filter if it hides it)."""


_Command = tuple[str, Callable[[], None], str]

MAX_HITS = 50
"""Commands one provider offers at most for one query. The palette lays out every option it
is given, on the event loop: with a command or five per environment, 2,000 environments
kept it from answering a key for 0.8 s (measured). Past the first screenful, typing finds
a command sooner than scrolling does."""


class _ListedCommands(Provider):
    """A provider whose commands are a list of (text, callback, help line)."""

    def _commands(self) -> Iterator[_Command]:
        return iter(())

    async def discover(self) -> Hits:
        """The first MAX_HITS, in order, when the palette opens with an empty query."""
        for text, command, help_text in islice(self._commands(), MAX_HITS):
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        """Fuzzy-match `query` against the command texts: the MAX_HITS best matches."""
        matcher = self.matcher(query)
        scored = ((matcher.match(text), text, command, help_text)
                  for text, command, help_text in self._commands())
        best = heapq.nlargest(MAX_HITS, (hit for hit in scored if hit[0] > 0),
                              key=itemgetter(0))
        for score, text, command, help_text in best:
            yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)


class EnvironmentCommands(_ListedCommands):
    """`env: rescan`, `env: filter`, `env: scan problems` (when there are any), and
    `show: NAME` for every environment, with where it is as the help line (names are not
    unique).
    """

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if not isinstance(target, EnvironmentCommandTarget):
            return
        yield ("env: rescan", target.action_rescan_inventory, "Scan the machine again")
        yield (
            "env: filter",
            target.action_focus_filter,
            "Narrow the table by name, manager, path or package",
        )
        if target.scan_problems:
            yield (
                "env: scan problems",
                target.action_show_scan_problems,
                "Read the problems with the scan itself in full",
            )
        for env in target.environments:
            show = partial(target.show_environment, env)
            yield (f"show: {shown_name(env)}", show, short_ref(env, target.home))


@runtime_checkable
class TreeCommandTarget(Protocol):
    """What the inventory offers to the tree commands."""

    @property
    def environments(self) -> Sequence[Environment]:
        """Every environment shown, in inventory order."""
        ...

    @property
    def home(self) -> str | None:
        """The home directory, written `~` in paths."""
        ...

    def open_tree(self, env: Environment) -> None:
        """Open the dependency tree of `env`."""


@runtime_checkable
class TreeViewTarget(Protocol):
    """What the tree screen offers to the tree commands."""

    @property
    def reverse(self) -> bool:
        """Whether the tree shows dependents rather than requirements."""
        ...

    @property
    def focused_package(self) -> str | None:
        """The package shown alone, if any."""
        ...

    def action_toggle_reverse(self) -> None:
        """Flip between requirements and dependents."""

    def action_toggle_focus(self) -> None:
        """Show the highlighted package alone, or the whole tree again."""

    def action_focus_find(self) -> None:
        """Put the cursor in the find field."""


class TreeCommands(_ListedCommands):
    """`tree: NAME` for every environment on the inventory; on a tree, `tree: reverse`
    (or `tree: requirements`), `tree: focus` (or `tree: whole tree`) and `tree: find`.
    """

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if isinstance(target, TreeViewTarget):
            if target.reverse:
                yield ("tree: requirements", target.action_toggle_reverse,
                       "Below each package, what it requires")
            else:
                yield ("tree: reverse", target.action_toggle_reverse,
                       "Below each package, what requires it (why is it installed?)")
            if target.focused_package is None:
                yield ("tree: focus", target.action_toggle_focus,
                       "Show the highlighted package's tree alone")
            else:
                yield ("tree: whole tree", target.action_toggle_focus,
                       "Show every package again")
            yield ("tree: find", target.action_focus_find,
                   "Move to a package by typing the start of its name")
        elif isinstance(target, TreeCommandTarget):
            for env in target.environments:
                yield (f"tree: {shown_name(env)}", partial(target.open_tree, env),
                       short_ref(env, target.home))


@runtime_checkable
class ProblemCommandTarget(Protocol):
    """What the inventory offers to the problems commands."""

    def action_show_problems(self) -> None:
        """Open the machine-wide problems view."""


class ProblemCommands(_ListedCommands):
    """`problems: all`: every problem of every environment."""

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if isinstance(target, ProblemCommandTarget):
            yield ("problems: all", target.action_show_problems,
                   "Check every environment and list all their problems")


@runtime_checkable
class FixCommandTarget(Protocol):
    """What the inventory offers to the fix commands."""

    @property
    def environments(self) -> Sequence[Environment]:
        """Every environment shown, in inventory order."""
        ...

    @property
    def home(self) -> str | None:
        """The home directory, written `~` in paths."""
        ...

    def fix_environment(self, env: Environment) -> None:
        """Open the fix screen of `env`."""


@runtime_checkable
class FixViewTarget(Protocol):
    """What the fix screen offers to the fix commands."""

    def action_apply_plan(self) -> None:
        """Apply the highlighted plan (after asking)."""

    def action_undo(self) -> None:
        """Restore the environment as it was before the last fix (after asking)."""

    def action_recompute(self) -> None:
        """Check again and compute new plans."""


class FixCommands(_ListedCommands):
    """`fix: NAME` for every venv and conda environment on the inventory; on the fix
    screen, `fix: apply`, `fix: undo` and `fix: recompute`."""

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if isinstance(target, FixViewTarget):
            yield ("fix: apply", target.action_apply_plan, "Apply the highlighted plan")
            yield ("fix: undo", target.action_undo,
                   "Restore the environment as it was before the last fix")
            yield ("fix: recompute", target.action_recompute, "Check again and compute new plans")
        elif isinstance(target, FixCommandTarget):
            for env in target.environments:
                if env.kind in (EnvKind.VENV, EnvKind.CONDA):
                    yield (f"fix: {shown_name(env)}", partial(target.fix_environment, env),
                           short_ref(env, target.home))


@runtime_checkable
class ExchangeCommandTarget(Protocol):
    """What the inventory offers to the export, import, diff and image commands."""

    @property
    def environments(self) -> Sequence[Environment]:
        """Every environment shown, in inventory order."""
        ...

    @property
    def home(self) -> str | None:
        """The home directory, written `~` in paths."""
        ...

    def export_environment(self, env: Environment) -> None:
        """Open the export screen of `env`."""

    def action_import_file(self) -> None:
        """Open the import screen."""

    def diff_environment(self, env: Environment) -> None:
        """Open the diff screen with `env` as A."""

    def save_image(self, env: Environment) -> None:
        """Ask where to save image `env`, then save it."""

    def action_load_image(self) -> None:
        """Ask which archive to load into Docker, then load it."""


@runtime_checkable
class ExportViewTarget(Protocol):
    """What the export screen offers to the export commands."""

    @property
    def file_names(self) -> Mapping[str, str]:
        """Each format's usual file name (`environment-yml` -> `environment.yml`)."""
        ...

    def choose_format(self, fmt: str) -> None:
        """Select the format `fmt` (one of envtui.exchange.FORMATS)."""

    def action_write_file(self) -> None:
        """Write the file (after asking, if it replaces one)."""


class ExportCommands(_ListedCommands):
    """`export: NAME` for every environment on the inventory; on the export screen,
    `export: environment.yml` (and each other format) and `export: write`."""

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if isinstance(target, ExportViewTarget):
            for fmt, name in target.file_names.items():
                yield (f"export: {name}", partial(target.choose_format, fmt),
                       f"Export as {fmt}")
            yield ("export: write", target.action_write_file, "Write the file")
        elif isinstance(target, ExchangeCommandTarget):
            for env in target.environments:
                yield (f"export: {shown_name(env)}", partial(target.export_environment, env),
                       short_ref(env, target.home))


@runtime_checkable
class ImportViewTarget(Protocol):
    """What the import screen offers to the import commands."""

    def action_preview_import(self) -> None:
        """Read the file and show what the import will do."""

    def action_create_environment(self) -> None:
        """Create the environment previewed (after asking)."""


class ImportCommands(_ListedCommands):
    """`import: file` on the inventory; `import: preview` and `import: create` on the
    import screen."""

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if isinstance(target, ImportViewTarget):
            yield ("import: preview", target.action_preview_import,
                   "Read the file and show what the import will do")
            yield ("import: create", target.action_create_environment,
                   "Create the environment previewed")
        elif isinstance(target, ExchangeCommandTarget):
            yield ("import: file", target.action_import_file,
                   "Create an environment from environment.yml, requirements, conda-lock "
                   "or pylock")


@runtime_checkable
class DiffViewTarget(Protocol):
    """What the diff screen offers to the diff commands."""

    @property
    def only_differences(self) -> bool:
        """Whether packages the same on both sides are hidden."""
        ...

    def action_toggle_same(self) -> None:
        """Show or hide the packages that are the same on both sides."""

    def action_pick_b(self) -> None:
        """Go back to choosing what A is compared with."""


class DiffCommands(_ListedCommands):
    """`diff: NAME` (NAME as A) for every environment on the inventory; on the diff screen,
    `diff: only differences` (or `diff: all packages`) and `diff: pick B`."""

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if isinstance(target, DiffViewTarget):
            if target.only_differences:
                yield ("diff: all packages", target.action_toggle_same,
                       "Show the packages that are the same on both sides too")
            else:
                yield ("diff: only differences", target.action_toggle_same,
                       "Hide the packages that are the same on both sides")
            yield ("diff: pick B", target.action_pick_b,
                   "Compare A with another environment or file")
        elif isinstance(target, ExchangeCommandTarget):
            for env in target.environments:
                yield (f"diff: {shown_name(env)}", partial(target.diff_environment, env),
                       f"Compare {short_ref(env, target.home)} with another environment "
                       "or a file")


class ImageCommands(_ListedCommands):
    """`image: load` and `image: save NAME` for every Docker image on the inventory."""

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if not isinstance(target, ExchangeCommandTarget):
            return
        yield ("image: load", target.action_load_image,
               "Load an image archive (FILE.tar) into Docker")
        for env in target.environments:
            if env.kind is EnvKind.IMAGE:
                yield (f"image: save {shown_name(env)}", partial(target.save_image, env),
                       short_ref(env, target.home))


@runtime_checkable
class CleanupCommandTarget(Protocol):
    """What the inventory offers to the cleanup commands."""

    @property
    def environments(self) -> Sequence[Environment]:
        """Every environment shown, in inventory order."""
        ...

    @property
    def home(self) -> str | None:
        """The home directory, written `~` in paths."""
        ...

    def action_open_cleanup(self) -> None:
        """Open the cleanup view."""

    def action_remove_environments(self) -> None:
        """Remove the marked environments (or the highlighted one)."""

    def action_select_all(self) -> None:
        """Mark every environment shown."""

    def remove_environments(self, targets: Sequence[Environment]) -> None:
        """Preview, confirm and remove `targets`."""

    def sort_by(self, column: str | None) -> None:
        """Sort by a column (None: inventory order)."""

    def filter_by(self, term: str) -> None:
        """Replace the filter with `term`."""

    def toggle_container(self, env: Environment) -> None:
        """Start or stop a container."""


SORT_COLUMNS = (("name", "name"), ("size", "size"), ("last-used", "last used"),
                ("packages", "packages"), ("problems", "problems"), ("cleanup", "cleanup"),
                ("manager", "manager"), ("python", "python"))
FILTERS = (("kind:venv", "virtual environments"), ("kind:conda", "conda environments"),
           ("kind:image", "Docker images"), ("kind:container", "Docker containers"),
           ("is:stale", "stale: not used for a long time"), ("is:broken", "broken"),
           ("is:duplicate", "duplicates: the same packages as another"),
           ("is:dangling", "dangling Docker images"), ("is:unused", "images no container uses"),
           ("is:stopped", "stopped containers"), ("is:selected", "the marked environments"))


class CleanupCommands(_ListedCommands):
    """`cleanup: open`, `delete: marked`, `delete: NAME`, `sort: COLUMN`, `filter: ...`,
    `container: start|stop NAME`."""

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if not isinstance(target, CleanupCommandTarget):
            return
        yield ("cleanup: open", target.action_open_cleanup,
               "Disk use, reclaimable space, stale, broken and duplicate environments")
        yield ("delete: marked", target.action_remove_environments,
               "Remove the marked environments (or the highlighted one), after a preview")
        yield ("select: all shown", target.action_select_all, "Mark every environment shown")
        for key, label in SORT_COLUMNS:
            yield (f"sort: {label}", partial(target.sort_by, key), f"Sort each group by {label}")
        yield ("sort: inventory order", partial(target.sort_by, None), "Kind, then name")
        for term, what in FILTERS:
            yield (f"filter: {term}", partial(target.filter_by, term), f"Show only {what}")
        for env in target.environments:
            yield (f"delete: {shown_name(env)}", partial(target.remove_environments, [env]),
                   short_ref(env, target.home))
            if env.kind is EnvKind.CONTAINER:
                verb = "stop" if env.details.get("state") == "running" else "start"
                yield (f"container: {verb} {shown_name(env)}",
                       partial(target.toggle_container, env), short_ref(env, target.home))


@runtime_checkable
class HelpTarget(Protocol):
    """The app's help action."""

    def action_help(self) -> None:
        """Show every key of the current screen."""


class HelpCommands(_ListedCommands):
    """`help: keys` on every screen."""

    def _commands(self) -> Iterator[_Command]:
        app = self.app
        if isinstance(app, HelpTarget):
            yield ("help: keys", app.action_help, "Every key of this screen (also ?)")
