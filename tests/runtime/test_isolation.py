"""The runtime package imports only the runtime set (the invoke tests check the task root itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("torch", "fnkit_build", "fnkit_ops", "onnx", "sklearn", "transformers", "boto3")
"""Build-time and operations packages; `onnx` (the protobuf library) is build-time too: onnxruntime
does not need it. (powertools itself tries `import botocore`, 1 ms, for its user-agent header; the
Lambda base image ships botocore, so that one is allowed.)"""


def test_importing_the_handler_loads_no_build_or_ops_package(repo_root: Path):
    # GIVEN a fresh interpreter that imports the handler module (the Lambda init phase)
    code = (
        "import json, sys\n"
        "import fnkit_runtime.app\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNKIT_")}

    # WHEN it runs
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    )

    # THEN none of the build/ops packages was imported, and the runtime set was
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))
    assert {"onnxruntime", "numpy", "aws_lambda_powertools", "fnkit_runtime"} <= loaded


def test_runtime_sources_do_not_mention_build_or_ops_packages(repo_root: Path):
    # GIVEN every module of the runtime package / THEN no import line names a forbidden package
    for path in (repo_root / "functions" / "fnkit_runtime").glob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                top = stripped.split()[1].split(".")[0]
                assert top not in FORBIDDEN, f"{path.name}: {stripped}"


def _openblas_threads_after_import(env_value: str | None) -> str:
    code = "import os, fnkit_runtime.app\nprint(os.environ.get('OPENBLAS_NUM_THREADS'))\n"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_runtime_defaults_openblas_to_one_thread():
    # GIVEN no OPENBLAS_NUM_THREADS in the environment (Lambda sets none)
    # WHEN the handler module is imported THEN the package __init__ (run before any submodule) chose one
    assert _openblas_threads_after_import(None) == "1"
    # AND a value the user set is kept
    assert _openblas_threads_after_import("3") == "3"


def test_the_init_of_a_tensor_model_leaves_what_it_does_not_need_unimported():
    # GIVEN a fresh interpreter that imports the handler module, as the init of a tensor model does
    code = "import json, sys\nimport fnkit_runtime.app\nprint(json.dumps(sorted(sys.modules)))\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNKIT_")}

    # WHEN it runs
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    )

    # THEN the text path, the API resolvers, powertools' JMESPath helpers and `random` (deferred, see
    # fnkit_runtime.lazy_modules) were not run: each costs cold-start time a direct invocation of a
    # tensor model never uses
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    unused = {
        "fnkit_runtime.text",
        "fnkit_runtime.routes",
        "tokenizers",
        "aws_lambda_powertools.event_handler",
        "jmespath",
        "typing_extensions",
        "_random",  # the C half of the deferred `random` (powertools' log sampling)
    }
    assert not loaded & unused, sorted(loaded & unused)
