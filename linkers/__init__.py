"""Linkers: trace → code. Each adds facts from the repository to the Evidence."""
