"""The five hookmesh services. They never import each other: they meet only through subjects and the
envelope. `REGISTRY` names each service's class for the CLI, which loads them by name."""

REGISTRY = {
    "ingress": "services.ingress.service:IngressService",
    "validation": "services.validation.service:ValidationService",
    "routing": "services.routing.service:RoutingService",
    "delivery": "services.delivery.service:DeliveryService",
    "deadletter": "services.deadletter.service:DeadLetterService",
}
