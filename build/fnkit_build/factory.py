"""Import and call a model's factory, and check the ModelBundle it returns against the registry."""

from __future__ import annotations

import importlib
import random
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fnkit_runtime.vocabulary import Metric

from fnkit_build.exceptions import FactoryError
from fnkit_build.registry import ModelSpec
from fnkit_build.types import Array, ModelBundle, batch_size

SEED = 0


@contextmanager
def _importable(folder: Path) -> Iterator[None]:
    """Let a registry outside the repo import factories that live beside it."""
    entry = str(folder.resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def load_bundle(spec: ModelSpec, extra_args: Mapping[str, Any] | None = None) -> ModelBundle:
    """Call the factory with fixed seeds and validate its result.

    `extra_args` join the registry's `factory_args` (the transformer optimizer's export asks for
    `optimizer.factory_args` this way).
    """
    module_name, _, func_name = spec.factory.partition(":")
    with _importable(spec.source.parent):
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise FactoryError(
                f"model {spec.name!r}: factory {spec.factory} failed to import: {type(exc).__name__}: {exc}. "
                f"Check the module path in {spec.source} and that its dependencies are installed."
            ) from exc
    factory = getattr(module, func_name, None)
    if not callable(factory):
        raise FactoryError(f"model {spec.name!r}: module {module_name} has no callable {func_name!r}")
    _seed_everything()
    try:
        bundle = factory(**{**spec.factory_args, **(extra_args or {})})
    except Exception as exc:
        raise FactoryError(
            f"model {spec.name!r}: factory {spec.factory} raised {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(bundle, ModelBundle):
        raise FactoryError(
            f"model {spec.name!r}: factory {spec.factory} returned {type(bundle).__name__}, not ModelBundle"
        )
    check_bundle(spec, bundle)
    return bundle


def _seed_everything() -> None:
    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)


def check_bundle(spec: ModelSpec, bundle: ModelBundle) -> None:
    """The bundle's arrays match the registry's inputs; the gate has what its metric needs."""
    _check_feeds(spec, "example_inputs", bundle.example_inputs)
    _check_feeds(spec, "eval_inputs", bundle.eval_inputs)
    if batch_size(bundle.eval_inputs) < 2:
        raise FactoryError(f"model {spec.name!r}: eval_inputs need at least 2 items")
    if spec.gate.metric is Metric.ACCURACY_DROP:
        labels = bundle.eval_labels
        if labels is None or len(labels) != batch_size(bundle.eval_inputs):
            raise FactoryError(
                f"model {spec.name!r}: gate accuracy_drop needs eval_labels, one per evaluation item"
            )
    if len(bundle.golden_requests) != len(bundle.golden_feeds):
        raise FactoryError(f"model {spec.name!r}: golden_requests and golden_feeds differ in length")
    for index, feeds in enumerate(bundle.golden_feeds):
        _check_feeds(spec, f"golden_feeds[{index}]", feeds)
    if spec.text is not None:
        tokenizer = None if bundle.tokenizer_dir is None else bundle.tokenizer_dir / spec.text.tokenizer_file
        if tokenizer is None or not tokenizer.is_file():
            raise FactoryError(
                f"model {spec.name!r}: text model without its tokenizer file {spec.text.tokenizer_file!r} "
                f"(bundle.tokenizer_dir is {bundle.tokenizer_dir})"
            )


def _check_feeds(spec: ModelSpec, what: str, feeds: Mapping[str, Array]) -> None:
    for tensor in spec.inputs:
        value = feeds.get(tensor.name)
        if value is None:
            raise FactoryError(f"model {spec.name!r}: {what} lacks input {tensor.name!r}")
        if value.dtype != np.dtype(tensor.dtype) or value.ndim != len(tensor.shape):
            raise FactoryError(
                f"model {spec.name!r}: {what}[{tensor.name!r}] is {value.dtype} rank {value.ndim}; "
                f"registry declares {tensor.dtype} shape {list(tensor.shape)}"
            )
        for axis, dim in enumerate(tensor.shape):
            if isinstance(dim, int) and value.shape[axis] != dim:
                raise FactoryError(
                    f"model {spec.name!r}: {what}[{tensor.name!r}] has shape {value.shape}; "
                    f"registry declares {list(tensor.shape)}"
                )
    try:
        batch_size(feeds)
    except ValueError as exc:
        raise FactoryError(f"model {spec.name!r}: {what}: {exc}") from exc
