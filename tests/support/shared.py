"""Where the read-only public samples live: ../shared beside the checkout (RCM_SHARED_DIR overrides)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("RCM_SHARED_DIR", ROOT.parent / "shared"))


def samples_dir(*parts: str) -> Path:
    return shared_dir().joinpath("samples", *parts)
