"""`python -m incidentbot.action`, the step action.yml runs: kept at this name so that workflows calling it keep
working. The Action's code is incidentbot/commands/action.py."""

from __future__ import annotations

import sys

from incidentbot.commands.action import main

if __name__ == "__main__":
    sys.exit(main())
