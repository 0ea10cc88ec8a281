"""The bundled model catalog (data): models.yaml."""
