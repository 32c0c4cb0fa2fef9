"""CSV and Markdown output of study rows (lists of flat dicts)."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["write_csv", "read_csv", "markdown_table"]


def write_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``rows`` (same keys; the first row's key order) to ``path`` atomically; returns the path."""
    path = Path(path)
    if not rows:
        raise ValueError(f"no rows to write to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(rows[0])
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="raise")
            writer.writeheader()
            for r in rows:
                writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary shared outputs
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a CSV written by :func:`write_csv`; numbers and booleans converted back."""

    def conv(v: str) -> Any:
        if v in ("True", "False"):
            return v == "True"
        for t in (int, float):
            try:
                return t(v)
            except ValueError:
                pass
        return v

    with open(path, newline="") as fh:
        return [{k: conv(v) for k, v in r.items()} for r in csv.DictReader(fh)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub Markdown table of ``rows`` (floats to 3 significant digits)."""
    if not rows:
        return "(no rows)\n"
    cols = list(columns or rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"
