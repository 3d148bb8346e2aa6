"""`hookmesh bench`: hookmesh measured against the raw JetStream limit and a bare aiohttp ingest, in one run.

Each part runs in its own process(es), so the figures are what the machine can do, not what one
event loop can do: nats-server, the load generator, the sink, and each service are separate.
"""
