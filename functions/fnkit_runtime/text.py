"""Text models: turn the client's strings into the graph's token inputs with the shipped tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fnkit_runtime.exceptions import ModelLoadError, TextInputError
from fnkit_runtime.manifest import Limits, TensorSpec, TextSpec, sha256_file

_ENCODING_FIELDS = {
    "input_ids": "ids",
    "attention_mask": "attention_mask",
    "token_type_ids": "type_ids",
}
"""Graph input name -> `tokenizers.Encoding` attribute that fills it."""

_DEFAULT_PAD_TOKEN = "[PAD]"


def parse_texts(inputs: Any, limits: Limits) -> list[str]:
    """A string or a non-empty list of strings, each within `limits.max_text_chars`."""
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise TextInputError("inputs must be a string or a list of strings")
    if not texts:
        raise TextInputError("inputs is an empty list; send at least one string")
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise TextInputError("a string is not valid Unicode (it holds a lone surrogate)") from None
    longest = max(len(t) for t in texts)
    if longest > limits.max_text_chars:
        raise TextInputError(f"a string has {longest} characters; the limit is {limits.max_text_chars}")
    return texts


class TextEncoder:
    """Tokenizes a batch, truncated to `max_length` and padded to its longest member."""

    def __init__(self, model_dir: Path, spec: TextSpec, inputs: list[TensorSpec]) -> None:
        path = model_dir / spec.tokenizer_file
        if not path.is_file():
            raise ModelLoadError(f"tokenizer {spec.tokenizer_file} is missing")
        if not spec.tokenizer_sha256:
            raise ModelLoadError(f"the manifest has no sha256 for tokenizer {spec.tokenizer_file}")
        if sha256_file(path) != spec.tokenizer_sha256:
            raise ModelLoadError(f"tokenizer {spec.tokenizer_file} does not match the manifest's sha256")
        unknown = [name for name in spec.graph_inputs if name not in _ENCODING_FIELDS]
        if unknown:
            raise ModelLoadError(f"text graph inputs {unknown} cannot be filled from a tokenizer")
        dtypes = {t.name: t.dtype for t in inputs}
        missing = [name for name in spec.graph_inputs if name not in dtypes]
        if missing:
            raise ModelLoadError(f"text graph inputs {missing} are not in the signature")
        # Imported here: only text models ship tokenizers (digits' image has no such package).
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:
            raise ModelLoadError(f"tokenizer {spec.tokenizer_file} could not be read: {exc}") from exc
        padding = tokenizer.padding or {}
        pad_token = str(padding.get("pad_token") or _DEFAULT_PAD_TOKEN)
        pad_id = padding.get("pad_id")
        if pad_id is None:
            pad_id = tokenizer.token_to_id(pad_token) or 0
        tokenizer.enable_truncation(max_length=spec.max_length)
        tokenizer.enable_padding(pad_id=int(pad_id), pad_token=pad_token, length=None)
        self._tokenizer = tokenizer
        self._fields = {name: (_ENCODING_FIELDS[name], dtypes[name]) for name in spec.graph_inputs}

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(texts)
        return {
            name: np.asarray([getattr(e, attribute) for e in encodings], dtype=dtype)
            for name, (attribute, dtype) in self._fields.items()
        }
