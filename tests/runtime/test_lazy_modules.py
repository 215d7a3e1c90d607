"""Deferred modules: not run at import, run on first use, behaviour unchanged (fresh processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def _run(code: str, cwd: Path | None = None) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd or ""), *sys.path]))},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_a_deferred_module_runs_on_first_attribute_access_not_at_its_importers_import(tmp_path):
    # GIVEN a package whose __init__ imports a submodule eagerly; the submodule records that it ran
    package = tmp_path / "eagerpkg"
    package.mkdir()
    (package / "__init__.py").write_text("from eagerpkg import heavy\n")
    (package / "heavy.py").write_text("import sys\nsys.heavy_ran = True\nVALUE = 42\n")

    # WHEN the submodule is deferred before the package is imported, then the package is imported,
    # then the submodule is used
    answer = _run(
        """
        import json, sys
        from fnkit_runtime import lazy_modules
        deferred = lazy_modules.defer("eagerpkg.heavy")
        parent_imported_by_defer = "eagerpkg" in sys.modules
        import eagerpkg
        ran_at_import = getattr(sys, "heavy_ran", False)
        value = eagerpkg.heavy.VALUE
        print(json.dumps({"deferred": deferred, "parent": parent_imported_by_defer,
                          "ran_at_import": ran_at_import, "ran_on_use": sys.heavy_ran, "value": value,
                          "again": lazy_modules.defer("eagerpkg.heavy")}))
        """,
        cwd=tmp_path,
    )

    # THEN finding it imported no parent, it did not run when its importer ran, it ran on first use
    # with its real value, and deferring an imported module is a no-op
    assert answer == {
        "deferred": True,
        "parent": False,
        "ran_at_import": False,
        "ran_on_use": True,
        "value": 42,
        "again": False,
    }


def test_a_module_that_does_not_exist_is_not_deferred(tmp_path):
    answer = _run(
        """
        import json
        from fnkit_runtime import lazy_modules
        print(json.dumps({"deferred": lazy_modules.defer("no_such_package_here.sub")}))
        """
    )
    assert answer == {"deferred": False}


def test_powertools_logger_still_resolves_correlation_paths_with_jmespath_deferred():
    # GIVEN fnkit's observability imported (it defers powertools' jmespath_utils)
    # WHEN a Logger-decorated handler asks for a correlation id by JMESPath expression
    answer = _run(
        """
        import json, sys, types
        from fnkit_runtime import observability
        loaded_at_import = "jmespath" in sys.modules
        logger = observability.logger

        @logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
        def handler(event, context):
            return logger.get_correlation_id()

        context = types.SimpleNamespace(function_name="f", function_version="1", memory_limit_in_mb=128,
            invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f", aws_request_id="r")
        correlation = handler({"requestContext": {"requestId": "abc-123"}}, context)
        print(json.dumps({"at_import": loaded_at_import, "correlation": correlation,
                          "loaded_on_use": "jmespath" in sys.modules}))
        """
    )

    # THEN jmespath was not imported with powertools, and the expression works as without deferral
    assert answer == {"at_import": False, "correlation": "abc-123", "loaded_on_use": True}


def test_log_sampling_and_star_imports_still_see_the_deferred_random():
    # GIVEN fnkit's observability imported (it defers `random`, which powertools' Logger imports for
    # log sampling) and a Logger that samples every invocation's debug logs
    answer = _run(
        """
        import io, json, sys, types
        from fnkit_runtime import observability
        ran_at_import = "_random" in sys.modules
        stream = io.StringIO()
        logger = observability.Logger(service="sampled", stream=stream, sampling_rate=1)

        @logger.inject_lambda_context
        def handler(event, context):
            logger.debug("sampled in")

        context = types.SimpleNamespace(function_name="f", function_version="1", memory_limit_in_mb=128,
            invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f", aws_request_id="r")
        handler({}, context)
        namespace = {}
        exec("from random import *", namespace)
        print(json.dumps({"at_import": ran_at_import, "sampled": "sampled in" in stream.getvalue(),
                          "star": "randint" in namespace, "real": type(sys.modules["random"]).__name__}))
        """
    )

    # THEN `random` did not run at import, and sampling and a star-import work as without deferral
    assert answer == {"at_import": False, "sampled": True, "star": True, "real": "module"}
