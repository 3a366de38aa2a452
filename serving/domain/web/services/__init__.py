"""The web UI's assets and templates, and the generated demo artwork."""
