"""The commands people run: the CLI (`triage`, `doctor`, `init` in cli; `run`, `poll`, `status`, `retry`, `sync`
in service), what they share (common), and the GitHub Action's step (action)."""
