"""Drafting: Evidence → Report. The template drafter needs no model; the LLM agent comes in its own issue."""
