"""incidentbot: from a production error to the code, the culprit commit and its owners."""

__version__ = "0.1.0"
