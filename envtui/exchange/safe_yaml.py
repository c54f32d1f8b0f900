"""Reading YAML from outside (environment.yml, conda-lock.yml) without trusting it.

`load_yaml` is the only way envtui reads such a file. PyYAML's own composers are not used:
libyaml's builds the node graph by C recursion and crashes the interpreter on a few hundred
kilobytes of `[[[[`, and the pure-Python one raises RecursionError. Nodes are built here
from the parser's events with an explicit stack, which lets every check run before a
single Python object is constructed:

* only YAML's standard tags (those SafeConstructor knows) are accepted: `!!python/...` and
  custom tags are refused, so no constructor for them can ever run;
* the size the document would have with its aliases expanded is added up while it is
  composed (an anchored node's size is known by the time an alias names it), so an alias
  bomb is refused after a few hundred bytes, without expanding anything;
* duplicate mapping keys are refused: PyYAML keeps the last one silently, and a conda file
  with two `dependencies:` keys would lose a whole list;
* one document at most; size and nesting depth are capped.

Every problem is an ExchangeError of one line that starts with the file's name.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

import yaml

from envtui.exchange.spec import ExchangeError

MAX_BYTES = 20 << 20
"""The largest YAML file read (20 MiB); checked before parsing."""

MAX_NODES = 250_000
"""The most nodes a document may have with its aliases expanded. A conda-lock file for three
platforms of 600 packages has about 75,000; building 250,000 takes about 3 s, the cost of
refusing a huge document without aliases."""

MAX_DEPTH = 100
"""The deepest nesting accepted; environment and lock files stay under ten."""

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _STANDARD + t
    for t in ("null", "bool", "int", "float", "str", "binary", "timestamp", "seq", "map",
              "omap", "pairs", "set", "merge", "value")
)
_MERGE = _STANDARD + "merge"
_OPEN = -1  # the size of an anchored node whose end has not been read yet
# What SafeConstructor raises for a malformed standard value (`!!int x`, `2021-02-30`).
_VALUE_ERRORS = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError)


def load_yaml(data: bytes | str, where: str) -> object:
    """The one document in `data` as plain Python values, or None when there is none.

    Raises ExchangeError naming `where` for anything unsafe, malformed or ambiguous.
    """
    text = _text(data, where)
    try:
        return _load(text, where)
    except yaml.MarkedYAMLError as e:
        raise ExchangeError(_marked(e, where)) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise ExchangeError(f"{where}: line {line}: unacceptable character "
                            f"#x{e.character:04x} ({e.reason})") from None
    except yaml.YAMLError as e:
        raise ExchangeError(f"{where}: {_one_line(e)}") from None


def _load(text: str, where: str) -> object:
    loader = _LOADER(text)  # the pure-Python reader checks the characters here already
    try:
        root = _Composer(loader, where).document()
        return None if root is None else _construct(loader, root, where)
    finally:
        loader.dispose()


def decode_text(data: bytes, where: str) -> str:
    """A file's bytes as text: UTF-8 (a BOM is allowed) or UTF-16 with its BOM, which is
    what Windows PowerShell's `>` writes. Raises ExchangeError naming the first bad byte."""
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    encoding = "utf-16" if utf16 else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        label = "UTF-16" if utf16 else "UTF-8"
        raise ExchangeError(f"{where}: line {line}: not {label} text (byte 0x{data[e.start]:02x} "
                            f"at offset {e.start})") from None


def _text(data: bytes | str, where: str) -> str:
    """`data` as text once its size is known to be acceptable."""
    if isinstance(data, str):
        if len(data) > MAX_BYTES:  # at least as many bytes as characters: no need to encode
            _too_big(len(data), where)
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise ExchangeError(f"{where}: not valid Unicode text ({e.reason} at character "
                                f"{e.start})") from None
        if size > MAX_BYTES:
            _too_big(size, where)
        return data
    if len(data) > MAX_BYTES:
        _too_big(len(data), where)
    return decode_text(data, where)


def _too_big(size: int, where: str) -> None:
    raise ExchangeError(f"{where}: {size:,} bytes is larger than the {MAX_BYTES >> 20} MiB "
                        "a YAML file may have; not read")


@dataclass
class _Open:
    """A sequence or mapping whose end event has not been read yet."""

    node: Any
    anchor: str | None
    size: int = 1
    key: Any = None
    """Mapping: the key node waiting for its value."""
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    """Mapping: each scalar key (tag, value) with its 1-based line, to catch duplicates."""


class _Composer:
    """Builds the node graph of one document from parser events, checking as it goes."""

    def __init__(self, loader: Any, where: str) -> None:
        self.loader = loader
        self.where = where
        self.stack: list[_Open] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        """Anchor -> (node, expanded size): the memo that makes alias sizes O(1)."""
        self.aliased = False

    def document(self) -> Any:
        """The root node of the only document, or None for an empty stream."""
        loader = self.loader
        loader.get_event()  # StreamStartEvent
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStartEvent
        root = self.root()
        loader.get_event()  # DocumentEndEvent
        if not loader.check_event(yaml.StreamEndEvent):
            raise self.error(loader.peek_event().start_mark,
                             "expected one YAML document, found another")
        return root

    def root(self) -> Any:
        while True:
            event = self.loader.get_event()
            finished = self.event(event)
            if finished is None:
                continue
            node, size = finished
            if not self.stack:
                return node
            self.add(node, size)

    def event(self, event: Any) -> tuple[Any, int] | None:
        """(node, expanded size) when `event` completes a node, else None."""
        if isinstance(event, yaml.AliasEvent):
            return self.alias(event)
        if isinstance(event, yaml.ScalarEvent):
            tag = self.tag(event, yaml.ScalarNode, event.value)
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark,
                                   style=event.style)
            if event.anchor is not None:
                self.anchors[event.anchor] = (node, 1)
            return node, 1
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            self.start(event)
            return None
        frame = self.stack.pop()  # SequenceEndEvent or MappingEndEvent
        frame.node.end_mark = event.end_mark
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (frame.node, frame.size)
        return frame.node, frame.size

    def start(self, event: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise self.error(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        sequence = isinstance(event, yaml.SequenceStartEvent)
        kind = yaml.SequenceNode if sequence else yaml.MappingNode
        node = kind(self.tag(event, kind, None), [], event.start_mark, None,
                    flow_style=event.flow_style)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, _OPEN)
        self.stack.append(_Open(node, event.anchor))

    def alias(self, event: Any) -> tuple[Any, int]:
        if event.anchor not in self.anchors:
            raise self.error(event.start_mark, f"alias *{event.anchor} names no anchor")
        node, size = self.anchors[event.anchor]
        if size == _OPEN:
            # PyYAML would build a self-containing object; nothing we read needs one.
            raise self.error(event.start_mark, f"alias *{event.anchor} is used inside the "
                                               "node it names (a recursive structure)")
        self.aliased = True
        return node, size

    def tag(self, event: Any, kind: Any, value: str | None) -> str:
        if event.tag is None or event.tag == "!":
            return str(self.loader.resolve(kind, value, event.implicit))
        if event.tag not in _ALLOWED_TAGS:
            shown = event.tag.replace(_STANDARD, "!!", 1)
            raise self.error(event.start_mark, f"tag {shown} is not allowed")
        return str(event.tag)

    def add(self, node: Any, size: int) -> None:
        """Put a finished node into the collection being built, counting its size."""
        frame = self.stack[-1]
        frame.size += size
        if frame.size > MAX_NODES:
            what = "aliases expand to" if self.aliased else "the document has"
            hint = " (a YAML alias bomb?)" if self.aliased else ""
            raise ExchangeError(f"{self.where}: {what} more than {MAX_NODES:,} nodes{hint}")
        if isinstance(frame.node, yaml.SequenceNode):
            frame.node.value.append(node)
        elif frame.key is None:
            self.check_key(frame, node)
            frame.key = node
        else:
            frame.node.value.append((frame.key, node))
            frame.key = None

    def check_key(self, frame: _Open, key: Any) -> None:
        # Merge keys (`<<`) may repeat; other keys are compared as written, with their tag.
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
            return
        identity = (key.tag, key.value)
        if identity in frame.keys:
            raise self.error(key.start_mark, f"duplicate key {key.value!r} (first on line "
                                             f"{frame.keys[identity]})")
        frame.keys[identity] = key.start_mark.line + 1

    def error(self, mark: Any, why: str) -> ExchangeError:
        return ExchangeError(f"{self.where}: line {mark.line + 1}: {why}")


def _construct(loader: Any, root: Any, where: str) -> object:
    try:
        return loader.construct_document(root)
    except _VALUE_ERRORS as e:
        # SafeConstructor's own error carries no position; find the scalar that fails alone.
        node = _failing_scalar(root)
        if node is None:
            raise ExchangeError(f"{where}: cannot read a value ({_one_line(e)})") from None
        tag = node.tag.replace(_STANDARD, "!!", 1)
        raise ExchangeError(f"{where}: line {node.start_mark.line + 1}: {node.value!r} is not "
                            f"a valid {tag} ({_one_line(e)})") from None


def _failing_scalar(root: Any) -> Any:
    """The first scalar node that cannot be constructed on its own, if any."""
    constructor = yaml.constructor.SafeConstructor()
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except _VALUE_ERRORS:
                return node
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(reversed(node.value))
        else:
            todo.extend(n for pair in reversed(node.value) for n in reversed(pair))
    return None


def _marked(e: Any, where: str) -> str:
    """PyYAML's positioned error as `where: line N, column M: problem`."""
    mark = e.problem_mark or e.context_mark
    problem = e.problem or e.context or "invalid YAML"
    if mark is None:
        return f"{where}: {_one_line(problem)}"
    return f"{where}: line {mark.line + 1}, column {mark.column + 1}: {_one_line(problem)}"


def _one_line(e: object) -> str:
    return " ".join(str(e).split()) or type(e).__name__
