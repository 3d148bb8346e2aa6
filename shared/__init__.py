"""What the hookmesh services share.

Layers, bottom up (a module only imports from layers below it, and nothing here imports `services`):

1. Pure definitions: `types`, `errors`, `envelope`, `subjects`, `durations`, `settings`.
2. The configuration model: `config` (the YAML file into typed structs) and `problems` (errors as
   RFC 9457 problem+json).
3. Runtime: `tracing`, `metrics`, `nats_runtime` (connect, publish, the credit-based pull loop),
   `streams` (provisioning), `configstore` (the configuration in NATS KV), `deadletters` (the
   dead-letter record and how any stage writes one), `opsserver` (/healthz, /readyz, /metrics),
   `servicehost` (one service's lifecycle), `embedded_nats`.
4. `cli`: the `hookmesh` command.
"""
