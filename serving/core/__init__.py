"""What every domain of the API shares: auth, errors, settings and services in the app state,
the Redis client, metrics, logs, feature flags and the OpenAPI configuration.

The core imports no domain; the domains (``serving.domain``) import the core.
"""
