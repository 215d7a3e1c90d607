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


def test_template_settings_are_the_rendered_templates(repo_root: Path) -> None:
    # GIVEN the rendered template.yaml's function properties (what sam local invoke reads)
    import yaml
    from fnkit_ops.invoke.function import LOCAL_STACK_NAME, template_settings

    class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # untyped base
        pass

    _Loader.add_multi_constructor("!", lambda _loader, tag, node: {tag: getattr(node, "value", None)})
    template = yaml.load((repo_root / "template.yaml").read_text(), Loader=_Loader)
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    for logical, model in (("DigitsFunction", "digits"), ("MinilmFunction", "minilm")):
        props = template["Resources"][logical]["Properties"]

        # WHEN fnkit invoke reads the model's settings
        settings = template_settings(repo_root / "models.toml", model)

        # THEN its environment is the template's (the stack name resolved as sam local does), and the
        # timeout and architecture are the function's
        assert settings is not None
        expected = {**shared, **props["Environment"]["Variables"]}
        expected = {k: LOCAL_STACK_NAME if isinstance(v, dict) else v for k, v in expected.items()}
        assert settings.env == expected
        assert settings.env["FNKIT_MODEL_NAME"] == model
        assert settings.timeout_s == props.get("Timeout", template["Globals"]["Function"].get("Timeout"))
        assert [settings.architecture] == props["Architectures"]


def test_a_model_outside_the_registry_has_no_template_settings(tmp_path: Path) -> None:
    from fnkit_ops.invoke.function import template_settings

    assert template_settings(tmp_path / "models.toml", "digits") is None
    assert template_settings(Path(__file__).resolve().parents[2] / "models.toml", "nope") is None
