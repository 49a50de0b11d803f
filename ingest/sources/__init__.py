"""Message sources (one module per protocol boundary)."""
