"""Redline's application layer: settings, persistence, services, the HTTP API and the CLI."""
