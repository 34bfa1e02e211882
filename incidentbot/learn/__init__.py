"""Learning from resolved incidents: a closed issue's fix, SZZ on it, the labelled case it makes, and the
per-repository calibration fitted on those cases (docs/learning.md)."""
