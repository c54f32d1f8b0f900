"""The dependency tree widget: a Textual Tree filled lazily from a `DependencyView`.

Only what is on screen exists: a node's children are added when it is first expanded, so a
big environment (thousands of packages, with shared subtrees repeated under every
dependent) costs what the user opens, not the size of its full tree.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from envtui.tui.deptree import DependencyView, Role, TreeEntry, search_key
from envtui.tui.widgets.theme import component_text_style

Node = TreeNode[TreeEntry]

_ROLE_COMPONENTS: dict[Role, str] = {
    "name": "dependency-tree--name",
    "version": "dependency-tree--version",
    "muted": "dependency-tree--muted",
    "problem": "dependency-tree--problem",
    "cycle": "dependency-tree--cycle",
}


class DependencyTree(Tree[TreeEntry]):
    """Packages with their requirements (or dependents) below them, expanded on demand.

    Conflicts and missing packages are drawn in the theme's error colour with the failing
    requirement; a package met again on its own path is marked as a cycle and not expanded.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            "Expand",
            tooltip="Show or hide the packages below the highlighted one (or press space)",
            id="tree.expand",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = set(_ROLE_COMPONENTS.values())
    """Package names, versions, quiet notes (specifiers), problems, cycle markers."""

    DEFAULT_CSS = """
    DependencyTree > .dependency-tree--muted { color: $text-muted; }
    DependencyTree > .dependency-tree--problem { color: $text-error; text-style: bold; }
    DependencyTree > .dependency-tree--cycle { color: $text-warning; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("dependencies", id=id)
        self.show_root = False
        self.guide_depth = 3
        self._view: DependencyView | None = None

    @property
    def view(self) -> DependencyView | None:
        """What the tree shows (None before the graph is read)."""
        return self._view

    @property
    def current_entry(self) -> TreeEntry | None:
        """The entry under the cursor."""
        node = self.cursor_node
        return node.data if node is not None else None

    def show(self, view: DependencyView) -> None:
        """Replace the tree with `view`'s top-level packages, all collapsed."""
        self._view = view
        self.clear()
        for entry in view.root_entries():
            self._add(self.root, entry)
        self.move_cursor(self.get_node_at_line(0))

    def _add(self, parent: Node, entry: TreeEntry) -> Node:
        return parent.add(Text(entry.label), entry, allow_expand=entry.expandable)

    def _load(self, node: Node, ancestors: set[str] | None = None) -> None:
        """Add `node`'s children unless it has them; `ancestors` (the keys from the top down
        to `node`, itself included) saves walking up when the caller knows them.
        """
        entry = node.data
        if entry is None or self._view is None or not node.allow_expand or node.children:
            return
        if ancestors is None:
            ancestors = set()
            step: Node | None = node
            while step is not None and step.data is not None:
                ancestors.add(step.data.key)
                step = step.parent
        for child in self._view.child_entries(entry, ancestors):
            self._add(node, child)

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[TreeEntry]) -> None:
        self._load(event.node)

    # -- moving the cursor to a package ------------------------------------------------

    def reveal(self, key: str, *, expand: bool = False) -> bool:
        """Open the nodes down a shortest route to `key` and put the cursor on it (expanded
        too when `expand`). False when `key` is not in the view or lies deeper than the tree
        expands in place.
        """
        view = self._view
        path = view.path(key) if view is not None else None
        if not path:
            return False
        node = self.root
        ancestors: set[str] = set()
        for step in path:
            found = next((c for c in node.children if c.data and c.data.key == step), None)
            if found is None:
                return False  # deeper than the tree expands (MAX_DEPTH)
            node = found
            ancestors.add(step)
            if step != key or expand:
                self._load(node, set(ancestors))
                if node.allow_expand:
                    node.expand()
        self.move_to(node)
        return True

    def move_to(self, node: Node) -> None:
        """Put the cursor on `node` (its ancestors expanded), scrolled into view."""
        _ = self.last_line  # rebuilds the lines, so the node knows its line number
        self.move_cursor(node)

    def jump(self, typed: str) -> bool:
        """Move to the first line whose package name starts with `typed`; failing that, to
        the first such package (in name order) anywhere in the tree, opened up to it.
        """
        wanted = search_key(typed)
        if not wanted or self._view is None:
            return False
        for line in range(self.last_line + 1):
            node = self.get_node_at_line(line)
            if node is not None and node.data is not None and self._matches(node.data, wanted):
                self.move_to(node)
                return True
        key = self._view.find(typed)
        return key is not None and self.reveal(key)

    def _matches(self, entry: TreeEntry, wanted: str) -> bool:
        assert self._view is not None
        pkg = self._view.graph.packages.get(entry.key)
        if pkg is None:
            return False  # a missing package: the search finds what is installed
        return search_key(pkg.name).startswith(wanted) or entry.key.startswith(wanted)

    # -- drawing -----------------------------------------------------------------------

    def render_label(self, node: Node, base_style: Style, style: Style) -> Text:
        """The label in its roles' theme colours (resolved now, so theme changes apply)."""
        entry = node.data
        if entry is None:
            return super().render_label(node, base_style, style)
        styles = {role: component_text_style(self, component)
                  for role, component in _ROLE_COMPONENTS.items()}
        label = Text.assemble(*((text, styles[role]) for text, role in entry.parts))
        label.stylize(style)
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
            return Text.assemble((icon, base_style + Style.from_meta({"toggle": True})), label)
        return label

    def get_label_width(self, node: Node) -> int:
        """The label's width without rendering it (every line is measured on each change)."""
        label = node.label
        width = label.cell_len if isinstance(label, Text) else len(label)
        return width + (len(self.ICON_NODE) if node.allow_expand else 0)
