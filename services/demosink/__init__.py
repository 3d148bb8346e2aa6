"""demosink: the demo destination `hookmesh up` runs; it verifies signatures and logs what it receives."""
