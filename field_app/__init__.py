"""The inspectors' offline-first mobile web app (served at /field). Not built yet: see issue 5."""
