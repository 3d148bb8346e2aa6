"""ingress: POST /v1/hooks/{source} → hookmesh.ingress.{source}, answered after the JetStream ack."""
