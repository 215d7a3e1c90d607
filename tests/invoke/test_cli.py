"""`fnkit invoke` argument and precondition errors: each is a one-line message and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from fnkit_ops.cli import main

REPO = Path(__file__).resolve().parents[2]
EVENT = str(REPO / "events" / "digits-direct.json")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["nope", "--event", EVENT], "unknown model 'nope'", id="unknown-model"),
        pytest.param(["digits", "--event", EVENT], "run `fnkit build digits` first", id="not-built"),
        pytest.param(
            ["digits", "--event", "no-such-event.json"], "event file no-such-event.json", id="no-event"
        ),
        pytest.param(
            ["digits", "--event", EVENT, "--env", "NOVALUE"], "--env expects NAME=VALUE", id="bad-env"
        ),
        pytest.param(
            ["digits", "--event", EVENT, "--repeat", "0"], "--repeat must be at least 1", id="repeat"
        ),
        pytest.param(["digits", "--event", EVENT, "--memory", "64"], "outside Lambda's", id="memory"),
        pytest.param(
            ["digits", "--event", EVENT, "--timeout", "0"], "--timeout must be positive", id="timeout"
        ),
    ],
)
def test_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    # GIVEN an empty artifacts folder
    argv = ["invoke", *extra, "--artifacts", str(tmp_path)]

    # WHEN fnkit invoke runs
    code = main(argv)

    # THEN it exits 2 with a message naming the problem
    assert code == 2
    assert message in capsys.readouterr().err


def test_event_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an event file holding something else than JSON
    event = tmp_path / "broken.json"
    event.write_text("{not json")

    # WHEN it is sent, THEN the error says so
    assert main(["invoke", "digits", "--event", str(event), "--artifacts", str(tmp_path)]) == 2
    assert "is not readable JSON" in capsys.readouterr().err


def test_event_is_required() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["invoke", "digits"])
    assert exc.value.code == 2
