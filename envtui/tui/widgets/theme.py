"""Theme colours for text drawn by Rich (table cells, grids), where CSS cannot reach."""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


def component_text_style(widget: Widget, component: str) -> Style:
    """The foreground style of `widget`'s `component` class, with no background.

    The partial style alone loses translucent colours such as `$text-muted` (`auto 60%`):
    Rich has no alpha, so they come out as the full foreground. The complete style has the
    colour blended over the widget's background; its background is dropped so the row
    cursor and zebra stripes still show through.
    """
    partial = widget.get_component_rich_style(component, partial=True)
    blended = widget.get_component_rich_style(component)
    return partial + Style(color=blended.color)
