"""The `hookmesh` command: one module per command group. This is the composition root: the only
place that loads services (by name, from `services.REGISTRY`)."""
