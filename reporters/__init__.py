"""Reporters: a Report rendered or posted to one destination."""
