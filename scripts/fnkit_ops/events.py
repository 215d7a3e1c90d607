"""The one loader for Lambda events in `events/` (tests, `fnkit invoke`, docs).

Files are named `<model>-<type>.json`, type one of EVENT_TYPES, real-shaped as
`sam local generate-event` makes them, so `sam local invoke -e events/FILE.json` takes them too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fnkit_ops.exceptions import EventFileError, UsageError

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
EVENT_TYPES = ("rest-api", "http-api", "function-url", "direct", "warmup", "health")


def event_path(name_or_path: str | Path) -> Path:
    """An existing file path as given, else `events/<name>[.json]`."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    name = candidate.name if candidate.suffix == ".json" else f"{candidate.name}.json"
    path = EVENTS_DIR / name
    if not path.is_file():
        raise UsageError(f"no event {name_or_path!s}: not a file, and no {name} in {EVENTS_DIR}")
    return path


def read_event(path: Path) -> Any:
    """The JSON value of one event file, as given (Lambda passes a direct event through as it is)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EventFileError(f"event file {path} does not exist (see events/ for the shipped ones)") from exc
    except (OSError, ValueError) as exc:
        raise EventFileError(f"event file {path} is not readable JSON: {exc}") from exc


def load_event(name_or_path: str | Path) -> dict[str, Any]:
    """The event as a dict: `load_event("digits-http-api")` or `load_event("path/to/event.json")`."""
    path = event_path(name_or_path)
    event = read_event(path)
    if not isinstance(event, dict):
        raise UsageError(f"event {path} is not a JSON object")
    return event
