"""Test support shared by every suite: a real nats-server, a recording HTTP sink, an OTLP receiver,
span recording, and the whole mesh in one process."""
