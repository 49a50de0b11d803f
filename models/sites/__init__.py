"""The asset registry and work records as people enter them: validation, the service, CSV."""
