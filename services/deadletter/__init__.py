"""deadletter: keeps hookmesh.dlq.> queryable, and replays or discards dead letters on request."""
