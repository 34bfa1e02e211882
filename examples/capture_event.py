"""Run the demo shop at its HEAD, let it crash, and capture the crash with the real sentry-sdk, offline.

Usage: python examples/capture_event.py REPO OUT.json
       python examples/capture_event.py REPO http://KEY@HOST:PORT/1    (send it, e.g. to `incidentbot run`)

The SDK is initialised with a transport that writes the event to OUT.json instead of sending it, so nothing
leaves the machine. The event's release is the repository's HEAD commit, as a deploy would set it, so
incidentbot blames the code that was running.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport


class FileTransport(Transport):
    """Writes each error event to a file: the real SDK pipeline, no network."""

    def __init__(self, out: Path) -> None:
        super().__init__({"dsn": "https://public@sentry.invalid/1"})
        self.out = out

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event" and item.payload.json is not None:
                self.out.write_text(json.dumps(item.payload.json, indent=2, default=str))

    def flush(self, timeout: float, callback: Any = None) -> None:  # nothing is buffered
        return None


def main() -> None:
    repo, target = Path(sys.argv[1]).resolve(), sys.argv[2]
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    sending = target.startswith(("http://", "https://"))
    out = Path(target).resolve()
    sentry_sdk.init(
        dsn=target if sending else "https://public@sentry.invalid/1",
        transport=None if sending else FileTransport(out),
        release=head.stdout.strip(),
        environment="demo",
        default_integrations=False,
        project_root=str(repo),  # frames of this script are not the app's
        send_default_pii=False,
    )
    sys.path.insert(0, str(repo))
    import app  # the demo shop, as checked out at HEAD

    customer_email = "jane.doe@example.org"  # noqa: F841 - personal data in a frame variable, to be redacted
    try:
        app.main(["spring10"])
    except Exception:
        sentry_sdk.capture_exception()
        print(f"sent the crash to {target}" if sending else f"captured the crash into {out}")
    else:
        sys.exit("the demo app did not crash: rebuild the demo repository")
    finally:
        sentry_sdk.flush()


if __name__ == "__main__":
    main()
