"""validation: hookmesh.ingress.> → JSON Schema 2020-12 → hookmesh.events.{type}, or the dead letters."""
