"""Widgets of the inventory screen: the table, the detail pane and the status lines."""
