"""routing: hookmesh.events.> → content patterns → hookmesh.deliver.{destination}."""
