"""events/: one file per registry model and event type, loaded through the one loader."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from fnkit_ops.events import EVENT_TYPES, EVENTS_DIR, load_event
from fnkit_ops.exceptions import UsageError
from fnkit_runtime.event_kinds import EventKind, classify

KIND_OF_TYPE = {
    "rest-api": EventKind.REST_API,
    "http-api": EventKind.HTTP_API,
    "function-url": EventKind.FUNCTION_URL,
    "direct": EventKind.DIRECT,
    "warmup": EventKind.WARMUP,
    "health": EventKind.HTTP_API,
}


def _registry_models(repo_root) -> list[str]:
    with (repo_root / "models.toml").open("rb") as handle:
        return sorted(tomllib.load(handle)["models"])


def test_every_registry_model_has_every_event_type(repo_root):
    # GIVEN the registry / THEN each model has one event per type, and nothing else is in events/
    expected = {f"{m}-{t}.json" for m in _registry_models(repo_root) for t in EVENT_TYPES}
    assert {p.name for p in EVENTS_DIR.glob("*.json")} == expected


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_events_are_the_shape_their_name_says(repo_root, event_type):
    for model in _registry_models(repo_root):
        # GIVEN the event file / WHEN loaded by name / THEN the handler classifies it as its type
        event = load_event(f"{model}-{event_type}")
        assert classify(event) is KIND_OF_TYPE[event_type]


def test_loader_accepts_a_name_a_file_name_and_a_path(tmp_path):
    path = tmp_path / "custom.json"
    path.write_text('{"inputs": [1]}')
    assert load_event("digits-direct") == load_event("digits-direct.json")
    assert load_event(EVENTS_DIR / "digits-direct.json") == load_event("events/digits-direct.json")
    assert load_event(path) == {"inputs": [1]}


@pytest.mark.parametrize("content", ["not json", "[1, 2]"])
def test_loader_rejects_bad_files(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UsageError):
        load_event(path)


def test_loader_rejects_unknown_names():
    with pytest.raises(UsageError):
        load_event("digits-carrier-pigeon")


def test_digits_events_hold_the_largest_golden_batch():
    # GIVEN the digits factory's held-out split (scikit-learn's digits, scaled as the build trains on
    # them): its largest golden request is held-out images 1-3, and render takes event bodies from it
    from fnkit_build.examples.digits import load_digits_split

    images = load_digits_split()[2][1:4]

    # THEN every digits prediction event carries exactly that batch
    for event_type in ("rest-api", "http-api", "function-url", "direct"):
        event = load_event(f"digits-{event_type}")
        body = event if event_type == "direct" else json.loads(event["body"])
        np.testing.assert_array_equal(np.asarray(body["inputs"], dtype=np.float32), images)
