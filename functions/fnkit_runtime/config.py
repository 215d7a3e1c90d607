"""The function's configuration, read once from the environment into a validated dataclass."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from fnkit_runtime import constants as c
from fnkit_runtime.exceptions import ConfigError
from fnkit_runtime.manifest import Limits
from fnkit_runtime.records import record
from fnkit_runtime.vocabulary import MAX_VCPUS, MB_PER_VCPU, MODEL_SUBDIR

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def threads_for_memory(memory_mb: int | None) -> int:
    """Intra-op threads for a function of `memory_mb`: its vCPU share rounded, clamped to [1, 6].

    Lambda gives one vCPU per 1,769 MB, up to 6 vCPUs; `os.cpu_count()` shows 2 cores even at 128 MB,
    so it is never used. 1,024 MB -> 1, 2,048 -> 1, 3,008 -> 2, 10,240 -> 6. Unknown memory -> 1.
    """
    if memory_mb is None:
        return 1
    share = math.floor(memory_mb / MB_PER_VCPU + 0.5)
    return max(1, min(MAX_VCPUS, share))


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false")


def load_at_init_requested(env: Mapping[str, str] | None = None) -> bool:
    """FNKIT_LOAD_AT_INIT alone, read without requiring the rest of the configuration."""
    return _flag(os.environ if env is None else env, c.LOAD_AT_INIT_ENV)


def _flag_on_by_default(env: Mapping[str, str], name: str) -> bool:
    return not env.get(name, "").strip() or _flag(env, name)


def prefetch_requested(env: Mapping[str, str] | None = None) -> bool:
    """Load the model in the background from import on: under a Lambda runtime (its Runtime API is
    set), unless FNKIT_PREFETCH=false or the load happens at init anyway (FNKIT_LOAD_AT_INIT).

    Never raises: a malformed value means no prefetch here, and the first invocation's configuration
    (`RuntimeConfig.from_env`) reports it as the ConfigError it is.
    """
    env = os.environ if env is None else env
    try:
        return (
            bool(env.get(c.RUNTIME_API_ENV))
            and not _flag(env, c.LOAD_AT_INIT_ENV)
            and _flag_on_by_default(env, c.PREFETCH_ENV)
        )
    except ConfigError:
        return False


def _positive_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a positive integer") from None
    if value <= 0:
        raise ConfigError(f"{name} must be a positive integer")
    return value


def _default_model_dir(env: Mapping[str, str]) -> Path:
    task_root = env.get(c.TASK_ROOT_ENV)
    root = Path(task_root) if task_root else Path(__file__).resolve().parents[1]
    return root / MODEL_SUBDIR


@record
class RuntimeConfig:
    """What the function serves and how; limit overrides apply on top of the manifest's limits."""

    model_name: str
    model_dir: Path
    intra_op_threads: int
    inter_op_threads: int = 1
    load_at_init: bool = False
    prefetch: bool = True
    profile: bool = False
    max_batch: int | None = None
    max_body_bytes: int | None = None
    max_text_chars: int | None = None
    allow_onnxruntime_mismatch: bool = False

    def __post_init__(self) -> None:
        if not self.model_name:
            raise ConfigError(f"{c.MODEL_NAME_ENV} is not set")
        if self.intra_op_threads < 1 or self.inter_op_threads < 1:
            raise ConfigError("thread counts must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RuntimeConfig:
        env = os.environ if env is None else env
        model_dir = env.get(c.MODEL_DIR_ENV, "").strip()
        threads = _positive_int(env, c.INTRA_OP_THREADS_ENV)
        return cls(
            model_name=env.get(c.MODEL_NAME_ENV, "").strip(),
            model_dir=Path(model_dir) if model_dir else _default_model_dir(env),
            intra_op_threads=threads or threads_for_memory(_positive_int(env, c.MEMORY_SIZE_ENV)),
            load_at_init=_flag(env, c.LOAD_AT_INIT_ENV),
            prefetch=_flag_on_by_default(env, c.PREFETCH_ENV),
            profile=_flag(env, c.PROFILE_ENV),
            max_batch=_positive_int(env, c.MAX_BATCH_ENV),
            max_body_bytes=_positive_int(env, c.MAX_BODY_BYTES_ENV),
            max_text_chars=_positive_int(env, c.MAX_TEXT_CHARS_ENV),
            allow_onnxruntime_mismatch=_flag(env, c.ALLOW_ONNXRUNTIME_MISMATCH_ENV),
        )

    def limits(self, manifest_limits: Limits) -> Limits:
        """The manifest's limits with this configuration's overrides applied."""
        return replace(
            manifest_limits,
            max_batch=self.max_batch or manifest_limits.max_batch,
            max_body_bytes=self.max_body_bytes or manifest_limits.max_body_bytes,
            max_text_chars=self.max_text_chars or manifest_limits.max_text_chars,
        )
