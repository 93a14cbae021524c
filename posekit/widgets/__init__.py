"""Notebook widgets: each renders one core object and forwards user events to it."""
