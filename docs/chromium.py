"""Headless Chromium (Debian's, no browser download) for the screenshots of the docs."""

from __future__ import annotations

import subprocess
from pathlib import Path


def screenshot(page: Path, png: Path, profile: Path, *, width: int = 1280, height: int = 1500) -> None:
    """``page`` (a local HTML file) rendered at ``width`` × ``height`` into ``png``."""
    subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
                    f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
