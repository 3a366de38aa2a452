"""The web UI (SPEC §7): server-rendered pages, static assets, demo media, the API docs page."""
