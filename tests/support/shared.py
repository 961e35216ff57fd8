"""Where the read-only public samples live: ../shared beside the checkout (RCM_SHARED_DIR overrides).

Conformance tests read them through `sample_files()` / `sample_params()` / `sample_file()`. When the samples
are missing, a local run skips with the path it looked in; under CI (`CI=true`, which CI always sets and
where ../shared is always present) the same test fails instead, so a broken checkout of the samples can
never turn a conformance check into a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("RCM_SHARED_DIR", ROOT.parent / "shared"))


def samples_dir(*parts: str) -> Path:
    return shared_dir().joinpath("samples", *parts)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(what: str, where: Path) -> None:
    """Skip locally, fail under CI: `what` was not found at `where`."""
    message = f"{what} not found at {where} (set RCM_SHARED_DIR to the shared folder, ../shared)"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def sample_files(*parts: str, pattern: str = "*", recursive: bool = False) -> list[Path]:
    """The sample files under samples/<parts...> matching `pattern`, sorted; [] when the folder is absent."""
    folder = samples_dir(*parts)
    if not folder.is_dir():
        return []
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    return sorted(p for p in found if p.is_file() and p.name not in ("SOURCES.md", "MANIFEST.tsv", "README.md"))


class MissingSamples:
    """Stands in for the sample path when the samples are absent: the first use skips the test locally and
    fails it under CI, naming the folder looked in."""

    def __init__(self, folder: Path, what: str = "shared samples") -> None:
        self.folder = folder
        self.what = what

    def __fspath__(self) -> str:
        missing(self.what, self.folder)
        raise AssertionError("unreachable")

    def __getattr__(self, name: str):
        if name in ("folder", "what"):  # not set yet (copy/pickle): no recursion through missing()
            raise AttributeError(name)
        missing(self.what, self.folder)

    def __repr__(self) -> str:
        return f"MissingSamples({self.folder})"


def corpus_files(*parts: str, pattern: str = "*", recursive: bool = False) -> list[Path]:
    """Samples that widen a test which also stands without them (a robustness corpus): [] locally when the
    folder is absent, so the test still runs on its own inputs; under CI the test fails naming the folder.
    Call it inside the test, not at import."""
    files = sample_files(*parts, pattern=pattern, recursive=recursive)
    if not files and in_ci():
        missing("shared samples", samples_dir(*parts))
    return files


def sample_params(*parts: str, pattern: str = "*", recursive: bool = False) -> list:
    """`pytest.param` per sample file (id relative to the folder), for `parametrize`. When there are none, one
    param whose first use skips locally and fails under CI with the folder it looked in."""
    files = sample_files(*parts, pattern=pattern, recursive=recursive)
    root = samples_dir(*parts)
    if not files:
        return [pytest.param(MissingSamples(root), id="samples-missing")]
    return [pytest.param(p, id=str(p.relative_to(root))) for p in files]


def need(path: Path) -> Path:
    """`path` itself (a sample file or folder), or skip locally / fail under CI when it is absent."""
    if not path.exists():
        missing("shared sample", path)
    return path


def sample_file(*parts: str) -> Path:
    """One named sample (samples/<parts...>), or skip locally / fail under CI when it is absent."""
    return need(samples_dir(*parts))


def reference_path(name: str) -> Path:
    """Where a shared reference file (reference/<name>, e.g. carc.md) is; it may be absent (see `reference_file`)."""
    return shared_dir() / "reference" / name


def reference_file(name: str) -> Path:
    """A shared reference file, or skip locally / fail under CI when it is absent."""
    path = reference_path(name)
    if not path.is_file():
        missing("shared reference file", path)
    return path
