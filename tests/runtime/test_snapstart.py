"""SnapStart's hooks in process: goldens before the snapshot, metrics dropped, restores counted."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import snapshot_restore_py
from fnkit_ops.events import load_event
from fnkit_runtime import observability, snapstart
from fnkit_runtime.exceptions import SnapshotCheckError
from fnkit_runtime.manifest import Manifest, write_atomic
from fnkit_runtime.session import holder


def test_before_snapshot_checks_the_goldens_loads_and_keeps_no_metric(harness, serve, capsys):
    # GIVEN a served model, not loaded yet
    serve("digits")
    # WHEN the before-snapshot hook runs
    snapstart.before_snapshot()
    # THEN the model is loaded, its goldens ran, and nothing they measured waits to be flushed
    assert holder.loaded
    assert not observability.metrics.metric_set
    assert any(r.get("message") == "snapshot ready" for r in harness.logs())


@pytest.mark.parametrize("name", ["digits", "minilm"])
def test_first_request_after_restore_loads_nothing_and_counts_a_restore(harness, serve, name):
    # GIVEN a snapshot made by the before-snapshot hook, then a restore
    serve(name)
    snapstart.before_snapshot()
    snapstart.after_restore()
    # WHEN the first two requests arrive
    first = harness.invoke(load_event(f"{name}-http-api"))
    first_documents = harness.emf()
    second = harness.invoke(load_event(f"{name}-http-api"))
    # THEN both are answered; the first counts one restore and no ModelLoadTime, the second no restore
    assert first["statusCode"] == second["statusCode"] == 200
    main = [d for d in first_documents if "Requests" in d]
    assert main and all("ModelLoadTime" not in d for d in first_documents)
    assert main[-1].get("SnapStartRestores") == [1.0]
    later = [d for d in harness.emf() if "Requests" in d][-1]
    assert "SnapStartRestores" not in later


def test_a_golden_mismatch_fails_the_snapshot_with_the_cause_logged(harness, serve, model_copy):
    # GIVEN a manifest whose golden outputs are off by 1
    model_dir = model_copy("digits")
    data = json.loads((model_dir / "manifest.json").read_text())
    sample = data["golden"][0]
    sample["outputs"] = {k: (np.asarray(v) + 1.0).tolist() for k, v in sample["outputs"].items()}
    write_atomic(model_dir / "manifest.json", Manifest.from_dict(data).to_json().encode())
    serve("digits", model_dir=model_dir)
    # WHEN the before-snapshot hook runs, THEN it raises (Lambda fails the publication) and logs why
    with pytest.raises(SnapshotCheckError, match="golden sample 0"):
        snapstart.before_snapshot()
    assert any("before-snapshot hook failed" in str(r.get("message")) for r in harness.logs())


def test_an_embedding_below_its_cosine_floor_fails_the_snapshot(harness, serve, model_copy):
    # GIVEN an embedding golden whose outputs are negated (cosine -1) but within a loose atol of 10,
    # and a cosine floor as the build records for embeddings
    model_dir = model_copy("minilm")
    data = json.loads((model_dir / "manifest.json").read_text())
    sample = data["golden"][0]
    sample["outputs"] = {k: (-np.asarray(v)).tolist() for k, v in sample["outputs"].items()}
    sample.update(atol=10.0, cosine_min=0.99)
    write_atomic(model_dir / "manifest.json", Manifest.from_dict(data).to_json().encode())
    serve("minilm", model_dir=model_dir)
    # WHEN the before-snapshot hook runs, THEN the cosine floor fails it (atol alone would pass)
    with pytest.raises(SnapshotCheckError, match=r"row cosine -1\.0+ below the floor 0\.990000"):
        snapstart.before_snapshot()


def test_after_restore_reseeds_random_state_and_never_raises(harness, monkeypatch):
    # GIVEN random state as the snapshot would hold it
    random.seed(1)
    np.random.seed(1)
    snapshot_python, snapshot_numpy = random.random(), np.random.random()
    random.seed(1)
    np.random.seed(1)
    # WHEN an environment is restored, THEN its random state is its own
    snapstart.after_restore()
    assert (random.random(), np.random.random()) != (snapshot_python, snapshot_numpy)

    # GIVEN marking the restore fails; WHEN the hook runs, THEN it logs and returns
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(observability, "mark_restored", broken)
    snapstart.after_restore()
    assert any("after-restore hook failed" in str(r.get("message")) for r in harness.logs())


def test_register_hands_both_hooks_to_snapshot_restore_py(monkeypatch):
    # GIVEN empty registries
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    # WHEN the runtime registers its hooks
    snapstart.register()
    # THEN the runtime client will find them
    assert [f for f, _, _ in snapshot_restore_py.get_before_snapshot()] == [snapstart.before_snapshot]
    assert [f for f, _, _ in snapshot_restore_py.get_after_restore()] == [snapstart.after_restore]
