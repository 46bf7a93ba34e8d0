"""The workspace reconciler and the pure functions that render its objects."""
