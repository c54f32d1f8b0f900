"""The app's screens; each owns its bindings, actions and message handlers."""
