"""Composition root: settings, app factory, CLI, logging, metrics."""

__version__ = "0.1.0"
