"""The staff console's panes, each a tab of its own (attributes down, messages up): the
day's list, the detail with the ladder, the re-verification queue, the developer view and
the demo's controls. The app composes them and routes their messages."""
