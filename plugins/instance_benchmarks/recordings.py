"""Data recorded elsewhere and vendored under include/ (prices, launch timings): read only as recorded.

Each file's README gives its source, commit and SHA-256; a file whose checksum no longer matches was changed
after it was copied, and is refused rather than used as if it were the recording.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def verified_text(path: Path, sha256: str) -> str:
    """The text of `path`, provided its SHA-256 is the recorded one."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ValueError(f"{path} has SHA-256 {digest}, not the recorded {sha256}: it was changed; restore it "
                         "from the source its README gives")
    return data.decode()
