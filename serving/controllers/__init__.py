"""HTTP controllers; each is listed once in ``serving.app.ROUTE_HANDLERS``."""
