"""Helpers shared by the tests (import as ``helpers.<module>``)."""

import re


def unpadded(markdown: str) -> str:
    """A Markdown table with the padding of its cells removed, so tests can look for ``| Mid | 5 |``."""
    return re.sub(r" {2,}", " ", markdown)
