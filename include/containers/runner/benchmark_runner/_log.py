"""Progress goes to stderr, one timestamped line each, so a task log can follow it;
stdout is reserved for the JSON document."""

from __future__ import annotations

import sys
import time


def log(message: str, *args: object) -> None:
    text = message % args if args else message
    stamp = time.strftime("%H:%M:%S")
    print(f"[benchrun {stamp}] {text}", file=sys.stderr, flush=True)
