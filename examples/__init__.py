"""Example consumer services built on shared/ only (they import no service, as services import no other)."""
