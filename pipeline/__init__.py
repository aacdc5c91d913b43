"""Karabakh news-events pipeline: hand-annotated articles -> validated tables -> data package."""

__version__ = "0.1.0"
