"""The code blocks of a document, so tests run the examples the docs show verbatim."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def blocks(document: str, language: str) -> list[str]:
    """Every ```<language> fenced block of docs/<document>, in order, as written."""
    text = (REPO / "docs" / document).read_text()
    return re.findall(rf"^```{re.escape(language)}\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)
