"""delivery: hookmesh.deliver.{destination} → signed HTTP POST, with retries, then the dead letters."""
