"""Task-root assembly: requirements, the cached dependency layer, copies and the safety of `dest`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fnkit_ops.invoke import (
    DependencyInstallError,
    TaskRoot,
    TaskRootError,
    assemble_task_root,
    dir_size_bytes,
    install_dependencies,
    requirement_lines,
)
from fnkit_ops.invoke.constants import TASK_ROOT_MARKER
from fnkit_ops.invoke.taskroot import deps_key, requirements_file_for

from .conftest import handler_files


def test_requirement_lines_follow_includes(tmp_path: Path) -> None:
    # GIVEN a text requirements file that includes the base one, with comments and blanks
    (tmp_path / "requirements.txt").write_text(
        "# runtime set\nnumpy==2.4.6\n\nonnxruntime==1.32.0  # pinned\n"
    )
    (tmp_path / "requirements-text.txt").write_text("-r requirements.txt\ntokenizers==0.23.3\n")

    # WHEN its lines are read
    lines = requirement_lines(tmp_path / "requirements-text.txt")

    # THEN the include is expanded in place and the noise is gone
    assert lines == ["numpy==2.4.6", "onnxruntime==1.32.0", "tokenizers==0.23.3"]


def test_requirement_include_cycle_is_an_error(tmp_path: Path) -> None:
    # GIVEN two files that include each other
    (tmp_path / "a.txt").write_text("-r b.txt\n")
    (tmp_path / "b.txt").write_text("-r a.txt\n")

    # WHEN read, THEN the cycle is reported
    with pytest.raises(TaskRootError, match="cycle"):
        requirement_lines(tmp_path / "a.txt")


def test_deps_key_follows_the_content() -> None:
    # THEN the same lines give the same key and any change gives another
    assert deps_key(["numpy==2.4.6"]) == deps_key(["numpy==2.4.6"])
    assert deps_key(["numpy==2.4.6"]) != deps_key(["numpy==2.4.5"])


def test_dependency_layer_is_installed_once(trivial_root: TaskRoot, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the layer of an empty requirements list (the runtime client alone), installed for `trivial_root`
    layer, key = install_dependencies([])
    assert key == trivial_root.deps_key
    assert (layer / "awslambdaric").is_dir()

    # WHEN it is asked for again with pip made unusable
    def no_pip(*_args: object, **_kwargs: object) -> subprocess.CompletedProcess[str]:
        raise AssertionError("pip ran although the layer was cached")

    monkeypatch.setattr(subprocess, "run", no_pip)

    # THEN the cached layer is returned
    assert install_dependencies([]) == (layer, key)


def test_pip_failure_is_reported(tmp_path: Path) -> None:
    # WHEN a requirement pip cannot parse is installed (no network involved)
    with pytest.raises(DependencyInstallError, match="pip install --target failed"):
        install_dependencies(["not a valid requirement !!"], cache=tmp_path)

    # THEN no half-made layer is left in the cache
    assert not [p for p in (tmp_path / "deps").iterdir()]


def test_assembly_copies_links_and_compiles(trivial_root: TaskRoot, tmp_path: Path) -> None:
    # GIVEN a package and a data folder to copy beside the dependencies
    package = tmp_path / "src" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 1\n")
    data = tmp_path / "src" / "model"
    data.mkdir()
    (data / "weights.bin").write_bytes(b"\0" * 1000)

    # WHEN the task root is assembled
    root = assemble_task_root(tmp_path / "task", [], {"mypkg": package, "model": data})

    # THEN it holds the dependency layer, the copies (package byte-compiled) and the marker
    assert (root.path / "awslambdaric").is_dir()
    assert (root.path / "model" / "weights.bin").stat().st_size == 1000
    assert list((root.path / "mypkg" / "__pycache__").glob("__init__.*.pyc"))
    assert (root.path / TASK_ROOT_MARKER).is_file()
    # AND its sizes add up
    assert root.total_bytes == dir_size_bytes(root.path)
    assert root.deps_key == trivial_root.deps_key
    assert root.total_bytes >= root.deps_bytes - root.trimmed_bytes + 1000


def test_reassembly_replaces_a_task_root_it_made(tmp_path: Path) -> None:
    # GIVEN a task root assembled once, with a stray file added later
    dest = tmp_path / "task"
    assemble_task_root(dest, [], handler_files("trivial.py"))
    (dest / "stray.txt").write_text("left over")

    # WHEN it is assembled again
    assemble_task_root(dest, [], handler_files("trivial.py"))

    # THEN it starts from a clean folder
    assert not (dest / "stray.txt").exists()
    assert (dest / "trivial.py").is_file()


def test_refuses_to_clear_a_folder_it_did_not_make(tmp_path: Path) -> None:
    # GIVEN a non-empty folder without the task-root marker
    (tmp_path / "precious.txt").write_text("keep me")

    # WHEN it is used as the task root, THEN assembly refuses and the file survives
    with pytest.raises(TaskRootError, match="refusing to clear"):
        assemble_task_root(tmp_path, [], {})
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_missing_copy_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TaskRootError, match="does not exist"):
        assemble_task_root(tmp_path / "task", [], {"model": tmp_path / "nowhere"})


def test_cached_layer_survives_trimming_the_task_root(trivial_root: TaskRoot, tmp_path: Path) -> None:
    # GIVEN an assembled task root whose files are hardlinks into the cache
    layer, _ = install_dependencies([])
    before = dir_size_bytes(layer)

    # WHEN files are removed from the task root
    assembled = assemble_task_root(tmp_path / "task", [], {})
    for entry in assembled.path.iterdir():
        if entry.is_dir():
            for child in entry.rglob("*.py"):
                os.unlink(child)

    # THEN the cached layer is untouched
    assert dir_size_bytes(layer) == before


def _source_dir(tmp_path: Path, dockerfile: str | None) -> Path:
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\n")
    (tmp_path / "requirements-text.txt").write_text("-r requirements.txt\ntokenizers==0.23.3\n")
    if dockerfile is not None:
        (tmp_path / "m").mkdir()
        (tmp_path / "m" / "Dockerfile").write_text(dockerfile)
    return tmp_path


@pytest.mark.parametrize(
    ("dockerfile", "is_text", "expected"),
    [
        pytest.param(None, False, "requirements.txt", id="no-dockerfile-tensor"),
        pytest.param(None, True, "requirements-text.txt", id="no-dockerfile-text"),
        pytest.param(
            "COPY requirements.txt requirements-text.txt ./\n"
            'RUN pip install --no-cache-dir -r requirements-text.txt --target "${LAMBDA_TASK_ROOT}"\n',
            True,
            "requirements-text.txt",
            id="dockerfile-agrees",
        ),
    ],
)
def test_requirements_file_choice(
    tmp_path: Path, dockerfile: str | None, is_text: bool, expected: str
) -> None:
    source = _source_dir(tmp_path, dockerfile)
    assert requirements_file_for("m", is_text, source) == source / expected


def test_dockerfile_disagreeing_with_the_manifest_is_an_error(tmp_path: Path) -> None:
    # GIVEN a tensor model whose Dockerfile installs the text requirements
    source = _source_dir(tmp_path, "RUN pip install -r requirements-text.txt --target /var/task\n")

    # WHEN its requirements file is chosen, THEN the mismatch is an error
    with pytest.raises(TaskRootError, match=r"implies requirements\.txt"):
        requirements_file_for("m", False, source)
