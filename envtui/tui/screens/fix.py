"""Fixing one environment: its dependency problems, ranked plans, applying one, undo.

Plans are computed in a thread worker (the resolver may read indexes); applying one runs
the transaction in another, with the installer's output shown as it comes. Textual turns
Ctrl-C into a key, so Ctrl-C here cancels the apply: the transaction stops the installer's
process group and restores the environment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, LoadingIndicator, OptionList, RichLog, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from envtui.format import plural
from envtui.model import Environment, Problem
from envtui.tui.commands import FixCommands
from envtui.tui.format import printable, short_ref, shown_name
from envtui.tui.widgets.confirm import ConfirmScreen
from envtui.tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from envtui.resolver.journal import Journal
    from envtui.resolver.plans import Plan, Proposal
    from envtui.resolver.sources import IndexOptions


class FixScreen(Screen[bool]):
    """Problems of `env` and the plans that fix them; dismissed with True if it changed."""

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {FixCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "apply_plan", "Apply", tooltip="Apply the highlighted plan",
                priority=True, id="fix.apply"),
        Binding("u", "undo", "Undo", tooltip="Restore the environment as it was before the "
                "last fix", id="fix.undo"),
        Binding("c", "finish", "Finish", tooltip="Restore the environment, then apply the "
                "interrupted fix again", id="fix.finish"),
        Binding("d", "discard", "Discard", tooltip="Forget the interrupted fix and leave the "
                "environment as it is", id="fix.discard"),
        Binding("r", "recompute", "Recompute", tooltip="Check again and compute new plans",
                id="fix.recompute"),
        Binding("ctrl+c", "cancel", "Cancel", tooltip="Stop the installer and restore the "
                "environment", priority=True, id="fix.cancel"),
        Binding("escape", "go_back", "Back", tooltip="Back to the previous screen",
                id="fix.back"),
        Binding("q", "go_back", "Back", show=False, id="fix.back-q"),
    ]

    class PlansReady(Message):
        def __init__(self, proposal: Proposal, env: Environment) -> None:
            super().__init__()
            self.proposal = proposal
            self.env = env

    class Interrupted(Message):
        """An earlier fix was interrupted: it must be undone, finished or discarded first."""

        def __init__(self, journal: Journal) -> None:
            super().__init__()
            self.journal = journal

    class Output(Message):
        """A line of installer or resolver output."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class Finished(Message):
        """An apply or undo ended: `error` is None on success."""

        def __init__(self, what: str, error: str | None) -> None:
            super().__init__()
            self.what = what
            self.error = error

    def __init__(self, env: Environment, *, options: IndexOptions | None = None,
                 home: str | None = None) -> None:
        super().__init__()
        self.env = env
        self.options = options
        self._home = home
        self._proposal: Proposal | None = None
        self._busy: str | None = None
        """"computing", or the change running ("apply", "undo", "finish", "discard") in a
        worker."""
        self._cancel = threading.Event()
        self._changed = False
        self._worker: Worker[None] | None = None
        self._interrupted: Journal | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="fix-status"):
            yield Static(id="fix-text")
            yield LoadingIndicator(id="fix-busy")
        problems = Static(id="fix-problems")
        problems.border_title = "Problems"
        yield problems
        plans = OptionList(id="fix-plans")
        plans.border_title = "Plans, smallest change first"
        yield plans
        yield Static(id="fix-explanation")
        log = RichLog(id="fix-log", wrap=True, markup=False, max_lines=2000)
        log.border_title = "Output"
        yield log
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"fix · {shown_name(self.env)}"
        if self.options is None:
            self.options = getattr(self.app, "index_options", None)
        self.query_one("#fix-log", RichLog).display = False
        self.query_one("#fix-explanation", Static).display = False
        self._compute()

    # -- state shown -------------------------------------------------------------------

    @property
    def busy(self) -> str | None:
        return self._busy

    @property
    def proposal(self) -> Proposal | None:
        return self._proposal

    def _status(self, *parts: str | tuple[str, str]) -> None:
        self.query_one("#fix-text", Static).update(Content.assemble(*parts))
        self.query_one("#fix-busy", LoadingIndicator).display = self._busy is not None
        self.refresh_bindings()

    def _log(self, line: str) -> None:
        log = self.query_one("#fix-log", RichLog)
        log.display = True
        log.write(printable(line))

    # -- computing plans -----------------------------------------------------------------

    def _compute(self) -> None:
        self._busy = "computing"
        self._proposal = None
        self.query_one("#fix-plans", OptionList).clear_options()
        self.query_one("#fix-explanation", Static).display = False
        self._status(("Checking and resolving… ", "bold $text-accent"),
                     short_ref(self.env, self._home))
        self._worker = self.compute_plans()

    @work(thread=True, exclusive=True, group="fix", exit_on_error=False)
    def compute_plans(self) -> None:
        from envtui.inspectors.base import ScanContext
        from envtui.inspectors.discovery import inspect_path
        from envtui.resolver.checks import check_environment
        from envtui.resolver.fixing import plan_fix
        from envtui.resolver.pipconfig import build_sources, index_options
        from envtui.resolver.transaction import pending

        if self.env.path and (journal := pending(Path(self.env.path))) is not None:
            self.post_message(self.Interrupted(journal))
            return
        env = self.env
        if self._changed and env.path:
            env = inspect_path(ScanContext.from_process(), Path(env.path),
                               use_cache=False) or env
        options = self.options or index_options()
        sources = build_sources(options, ScanContext.from_process().cache_dir)
        proposal = plan_fix(env, check_environment(env), sources, options,
                            progress=self._post_output)
        self.post_message(self.PlansReady(proposal, env))

    def _post_output(self, line: str) -> None:
        """Called from the workers' threads."""
        self.post_message(self.Output(line))

    @on(Output)
    def _output(self, message: Output) -> None:
        if self._busy == "computing":
            self._status(("Resolving… ", "bold $text-accent"), printable(message.line))
        else:
            self._log(message.line)

    @on(PlansReady)
    def _plans_ready(self, message: PlansReady) -> None:
        self._busy = None
        self.env = message.env
        proposal = self._proposal = message.proposal
        self._show_problems(proposal.problems)
        plans = self.query_one("#fix-plans", OptionList)
        plans.clear_options()
        for i, plan in enumerate(proposal.plans, 1):
            plans.add_option(Option(_plan_content(i, plan), id=f"plan-{i}"))
        explanation = self.query_one("#fix-explanation", Static)
        if proposal.explanation is not None:
            explanation.update(Content.assemble(("No fix: ", "bold $text-error"),
                                                printable(proposal.explanation)))
            explanation.display = True
            self._status(("No plan fixes this environment", "bold $text-error"))
        elif not proposal.problems:
            self._status(("Nothing to fix", "bold $text-success"),
                         " · no conflicts or missing requirements")
        else:
            self._status((plural(len(proposal.plans), "plan"), "bold"),
                         " · Enter applies the highlighted one; the first changes the least")
            plans.highlighted = 0
            plans.focus()
        for warning in proposal.warnings:
            self.notify(printable(warning), severity="warning", markup=False)

    @on(Interrupted)
    def _interrupted_fix(self, message: Interrupted) -> None:
        self._busy = None
        self._interrupted = message.journal
        what = "; ".join(a.describe() for a in message.journal.actions)
        explanation = self.query_one("#fix-explanation", Static)
        explanation.update(Content.assemble(
            ("An envtui fix was interrupted ", "bold $text-error"),
            f"(started {message.journal.started}: {printable(what)}). ",
            "u restores the environment as it was before it; c restores it and applies the "
            "fix again; d forgets it and leaves the environment as it is now."))
        explanation.display = True
        self._status(("Interrupted fix", "bold $text-error"),
                     " · u restore · c finish · d discard")

    def _show_problems(self, problems: list[Problem]) -> None:
        lines = [Content.assemble(("✗ ", "$text-error"), printable(p.detail)) for p in problems]
        self.query_one("#fix-problems", Static).update(Content("\n").join(lines))

    # -- applying and undoing ------------------------------------------------------------

    @on(OptionList.OptionSelected, "#fix-plans")
    def _plan_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_apply_plan()

    def action_apply_plan(self) -> None:
        from envtui.resolver.fixing import apply_plan
        from envtui.resolver.pipconfig import index_options

        plans = self.query_one("#fix-plans", OptionList)
        if self._busy or self._proposal is None or plans.highlighted is None:
            return
        number = plans.highlighted + 1
        plan = self._proposal.plans[number - 1]

        def apply() -> None:
            apply_plan(self.env, plan, self.options or index_options(),
                       progress=self._post_output, cancel=self._cancel)

        self._ask(f"Apply plan {number} to {shown_name(self.env)}?",
                  "\n".join(a.describe() for a in plan.actions),
                  "apply", f"Applying plan {number}… ", apply)

    def action_undo(self) -> None:
        from envtui.resolver.transaction import undo

        def restore() -> None:
            undone = undo(Path(self.env.path or ""), progress=self._post_output)
            what = "; ".join(a.describe() for a in undone)
            self._post_output(f"undid: {what}" if what else "restored")

        if not self._busy:
            self._ask(f"Restore {shown_name(self.env)} as it was before the last fix?", "",
                      "undo", "Restoring… ", restore)

    def action_finish(self) -> None:
        from envtui.resolver.pipconfig import index_options
        from envtui.resolver.transaction import finish

        journal = self._interrupted
        if self._busy or journal is None:
            return

        def complete() -> None:
            finish(Path(self.env.path or ""), self.options or index_options(),
                   progress=self._post_output, cancel=self._cancel)

        self._ask("Restore the environment, then apply the interrupted fix again?",
                  "\n".join(a.describe() for a in journal.actions),
                  "finish", "Finishing the interrupted fix… ", complete)

    def action_discard(self) -> None:
        from envtui.resolver.transaction import discard

        if not self._busy and self._interrupted is not None:
            self._ask("Forget the interrupted fix and keep the environment as it is now?", "",
                      "discard", "Forgetting the interrupted fix… ",
                      lambda: discard(Path(self.env.path or "")))

    def _ask(self, question: str, detail: str, what: str, doing: str,
             change: Callable[[], object]) -> None:
        """Ask first (No is the default), then run `change` in the worker."""

        def answered(yes: bool | None) -> None:
            if yes:
                self._busy = what
                self._cancel.clear()
                self.query_one("#fix-log", RichLog).clear()
                self._status((doing, "bold $text-accent"), "Ctrl-C cancels")
                self._worker = self.run_change(what, change)

        self.app.push_screen(ConfirmScreen(question, detail), answered)

    @work(thread=True, exclusive=True, group="fix", exit_on_error=False)
    def run_change(self, what: str, change: Callable[[], object]) -> None:
        """Apply, undo or discard; a TransactionError is reported, the env restored."""
        from envtui.resolver.transaction import TransactionError

        try:
            change()
        except TransactionError as e:
            self.post_message(self.Finished(what, str(e)))
        else:
            self.post_message(self.Finished(what, None))

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self._busy = None
        if message.error is not None:
            self._log(message.error)
            self._status((f"The {message.what} failed: ", "bold $text-error"),
                         printable(message.error))
            self.notify(printable(message.error), title=f"The {message.what} failed",
                        severity="error", timeout=10, markup=False)
            if message.what == "apply":
                self._changed = True  # restored, but re-read what is there now
            elif message.what == "finish":
                # The interrupted fix may be gone (restored, then the retry rolled back)
                # or still there (its installer still runs): look again.
                self._changed = True
                self._interrupted = None
                self._compute()
            return
        self._changed = True
        self._interrupted = None
        done = {"apply": "Applied. u undoes it.", "undo": "Restored.",
                "finish": "Finished the interrupted fix. u undoes it.",
                "discard": "Forgot the interrupted fix."}[message.what]
        self.notify(done, title=shown_name(self.env))
        self._compute()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure in a worker becomes an error line, never a crash."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        self._busy = None
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self._status(("Failed: ", "bold $text-error"), text)
        self.notify(text, title="Fix failed", severity="error", timeout=10, markup=False)

    def action_cancel(self) -> None:
        if self._busy in ("apply", "undo", "finish"):
            self._cancel.set()
            self._status(("Cancelling… ", "bold $text-warning"),
                         "stopping the installer, then restoring the environment")

    def action_recompute(self) -> None:
        if not self._busy:
            self._changed = True
            self._compute()

    def action_go_back(self) -> None:
        if self._busy in ("apply", "undo", "finish"):
            self.notify("Wait for it to finish, or press Ctrl-C to cancel.", markup=False)
            return
        self.dismiss(self._changed)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply_plan":
            return True if not self._busy and self._proposal and self._proposal.plans else None
        if action == "cancel":
            return self._busy in ("apply", "undo", "finish")
        if action in ("undo", "recompute"):
            return True if not self._busy else None
        if action in ("finish", "discard"):
            return self._interrupted is not None and not self._busy
        return True


def _plan_content(number: int, plan: Plan) -> Content:
    lines = [Content.assemble((f"{number}. ", "bold"), printable(plan.summary))]
    if plan.note:
        lines.append(Content.assemble("   ", (printable(plan.note), "$text-muted")))
    return Content("\n").join(lines)
