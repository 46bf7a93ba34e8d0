"""API types (msgspec Structs) for Workspace, Machine and the core objects the controllers read."""
