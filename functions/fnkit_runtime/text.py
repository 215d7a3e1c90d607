"""Text models: turn the client's strings into the graph's token inputs with the shipped tokenizer.

Length is explicit: an item longer than the model's `max_length` tokens is refused (400 naming the
item, its token count and the limit) unless truncation applies, the model's `on_overflow` default
or the request's `"truncate"`; a truncated item is reported with its original token count.
Items are encoded without padding; `fnkit_runtime.batching` decides which of them share a call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fnkit_runtime.exceptions import ModelLoadError, TextInputError, TokenLimitError
from fnkit_runtime.manifest import OVERFLOW_TRUNCATE, Limits, TensorSpec, TextSpec, sha256_file
from fnkit_runtime.records import record

_ENCODING_FIELDS = {
    "input_ids": "ids",
    "attention_mask": "attention_mask",
    "token_type_ids": "type_ids",
}
"""Graph input name -> `tokenizers.Encoding` attribute that fills it."""

_DEFAULT_PAD_TOKEN = "[PAD]"


@record
class EncodedTexts:
    """A request's strings as single-item token rows (shape (1, tokens), unpadded), in request order."""

    rows: list[dict[str, np.ndarray]]
    tokens: list[int]
    """Each item's token count before any truncation."""
    truncated: list[bool]

    @property
    def lengths(self) -> list[int]:
        """Each row's token count as fed to the graph."""
        return [next(iter(row.values())).shape[1] for row in self.rows]

    def items(self) -> list[dict[str, Any]]:
        """The per-item part of the response: token count and whether it was truncated."""
        return [
            {"tokens": tokens, "truncated": truncated}
            for tokens, truncated in zip(self.tokens, self.truncated, strict=True)
        ]


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
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._max_length = spec.max_length
        self._truncate_by_default = spec.on_overflow == OVERFLOW_TRUNCATE
        self._fields = {name: (_ENCODING_FIELDS[name], dtypes[name]) for name in spec.graph_inputs}
        self.pad_values = {name: int(pad_id) if name == "input_ids" else 0 for name in spec.graph_inputs}
        """Graph input -> value that pads it (the tokenizer's pad id for input_ids, 0 for masks)."""

    def encode(self, texts: list[str], truncate: bool | None = None) -> EncodedTexts:
        """Token rows for `texts`; TokenLimitError for the first item over the limit unless truncating.

        `truncate` is the request's choice; None means the model's `on_overflow` default.
        """
        encodings = self._tokenizer.encode_batch(texts)
        tokens = [len(e.ids) for e in encodings]
        over = [index for index, count in enumerate(tokens) if count > self._max_length]
        allowed = self._truncate_by_default if truncate is None else truncate
        if over and not allowed:
            first = over[0]
            raise TokenLimitError(
                f"item {first} has {tokens[first]} tokens; the limit is {self._max_length} "
                f'({len(over)} item(s) over it). Shorten it, or send "truncate": true'
            )
        if over:
            self._tokenizer.enable_truncation(max_length=self._max_length)
            try:
                for index, encoding in zip(
                    over, self._tokenizer.encode_batch([texts[i] for i in over]), strict=True
                ):
                    encodings[index] = encoding
            finally:
                self._tokenizer.no_truncation()
        rows = [self._row(encoding) for encoding in encodings]
        truncated = [count > self._max_length for count in tokens]
        return EncodedTexts(rows=rows, tokens=tokens, truncated=truncated)

    def _row(self, encoding: Any) -> dict[str, np.ndarray]:
        return {
            name: np.asarray([getattr(encoding, attribute)], dtype=dtype)
            for name, (attribute, dtype) in self._fields.items()
        }
