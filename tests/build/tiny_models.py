"""Tiny factories for the build tests; copied beside a temporary registry, which makes them importable."""

from __future__ import annotations

import numpy as np
import torch
from fnkit_build.types import ModelBundle
from torch import nn

FEATURES = 8
CLASSES = 4


def _data(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, FEATURES)).astype(np.float32)


def _classifier_bundle(
    module: nn.Module,
    x: np.ndarray,
    calibrate: bool = True,
    *,
    name: str = "x",
    example: int = 3,
    calibration: tuple[int, int] = (64, 16),
    golden: tuple[slice, ...] = (slice(0, 2),),
) -> ModelBundle:
    """A classifier's bundle on input `name`: labels are its own predictions on `x`; the example is the
    first `example` items, calibration the first `calibration[0]` in batches of `calibration[1]`, and
    each golden request one slice of `x`."""
    module.eval()
    with torch.no_grad():
        labels = module(torch.from_numpy(x)).argmax(1).numpy()
    items, batch = calibration
    return ModelBundle(
        module=module,
        example_inputs={name: x[:example]},
        eval_inputs={name: x},
        eval_labels=labels,
        calibration=[{name: x[i : i + batch]} for i in range(0, items, batch)] if calibrate else None,
        golden_requests=[{"inputs": x[part].tolist()} for part in golden],
        golden_feeds=[{name: x[part]} for part in golden],
    )


def _zeros(x: np.ndarray) -> np.ndarray:
    return np.zeros(len(x), dtype=np.int64)


def mlp(calibrate: bool = True, golden_feeds_shifted: bool = False) -> ModelBundle:
    """A well-behaved classifier: int8 keeps its predictions.

    `golden_feeds_shifted`: the golden feeds are not what the golden request decodes to.
    """
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, CLASSES))
    bundle = _classifier_bundle(module, _data(256), calibrate)
    if golden_feeds_shifted:
        bundle.golden_feeds = [{"x": feeds["x"] + 1.0} for feeds in bundle.golden_feeds]
    return bundle


def hostile() -> ModelBundle:
    """Hostile to int8: every weight row holds one huge outlier on an input that is almost always ~0,
    so the int8 scale (per tensor and per channel alike) rounds every useful weight to zero."""
    torch.manual_seed(0)
    first = nn.Linear(FEATURES, 32)
    with torch.no_grad():
        first.weight.mul_(0.01)
        first.weight[:, 0] = 1e4
        first.bias.zero_()
    module = nn.Sequential(first, nn.ReLU(), nn.Linear(32, CLASSES))
    x = _data(256) * 100  # the signal rides on the tiny weights...
    x[:, 0] = 0.0  # ...while the outlier weights see an input that is always 0
    return _classifier_bundle(module, x)


class _Specialized(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(FEATURES, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).reshape(2, -1)  # hard-codes the example's batch of 2


def specialized() -> ModelBundle:
    torch.manual_seed(0)
    x = _data(64)
    module = _Specialized().eval()
    return ModelBundle(
        module=module, example_inputs={"x": x[:2]}, eval_inputs={"x": x}, eval_labels=_zeros(x)
    )


class _Noisy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(FEATURES, CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.a(x) + torch.randn_like(self.a(x)), x * 2 + torch.rand_like(x)


def noisy() -> ModelBundle:
    """Random ops: ONNX Runtime draws other numbers than torch, so parity must fail on both outputs."""
    x = _data(64)
    return ModelBundle(module=_Noisy().eval(), example_inputs={"x": x[:2]}, eval_inputs={"x": x})


class _DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # Python control flow on a tensor's value: torch.export cannot trace it
            return x * 2
        return x - 1


def unexportable() -> ModelBundle:
    x = _data(8)
    return ModelBundle(
        module=_DataDependent(), example_inputs={"x": x[:2]}, eval_inputs={"x": x}, eval_labels=_zeros(x)
    )


def tiny_cnn() -> ModelBundle:
    """A convolution model for static QDQ, with real calibration batches."""
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 6 * 6, 64),
        nn.ReLU(),
        nn.Linear(64, CLASSES),
    ).eval()
    x = np.random.default_rng(1).random((128, 1, 6, 6), dtype=np.float32)
    return _classifier_bundle(
        module, x, name="img", example=2, calibration=(128, 32), golden=(slice(0, 1), slice(1, 3))
    )


def broken() -> ModelBundle:
    raise RuntimeError("dataset server unreachable")


OUTLIER = 1e4
"""The constant activation of an outlier channel: whole-tensor int8 scales round everything else to 0."""


def outlier_channel(outliers: int = 1) -> ModelBundle:
    """One hidden channel carries a huge constant (an outlier feature, as in transformers): every
    int8 candidate quantizes the MatMul reading it with one activation scale per tensor, which rounds
    the useful channels to zero. Keeping that one small MatMul in float repairs it; the large layers
    stay int8. `outliers=2` adds a second outlier channel before the large layer, so a repair needs
    two nodes in float (one of them the largest)."""
    torch.manual_seed(0)
    wide, narrow = 256, 16
    spread = nn.Linear(FEATURES, wide)
    squeeze = nn.Linear(wide, narrow)  # reads the outlier channel
    expand = nn.Linear(narrow, wide)
    big = nn.Linear(wide, wide)  # reads the second outlier channel when outliers == 2
    head = nn.Linear(wide, CLASSES)
    module = nn.Sequential(spread, nn.ReLU(), squeeze, nn.ReLU(), expand, nn.ReLU(), big, nn.ReLU(), head)
    with torch.no_grad():
        for layer in (spread, squeeze, expand, big, head):  # He init, no biases: the signal survives
            layer.weight.normal_(0.0, (2.0 / layer.in_features) ** 0.5)  # every layer, so labels vary
            layer.bias.zero_()
    with torch.no_grad():
        _add_outlier(spread, squeeze)
        if outliers == 2:
            _add_outlier(expand, big)
    return _classifier_bundle(module, _data(256))


def _add_outlier(producer: nn.Linear, consumer: nn.Linear) -> None:
    """Channel 0 of `producer` outputs OUTLIER whatever the input; `consumer` gives it no weight, so
    the float model ignores it while int8 sizes its activation scale by it."""
    producer.weight[0] = 0.0
    producer.bias[0] = OUTLIER
    consumer.weight[:, 0] = 0.0


class _MeanPooled(nn.Module):
    """A Hugging Face encoder + mask-weighted mean pooling + L2 normalisation (as minilm's graph)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2.0, dim=1)


TINY_BERT_MAX_LENGTH = 32


def tiny_bert(attn_implementation: str | None = None) -> ModelBundle:
    """A randomly initialised 2-layer BERT (hidden 32, 2 heads) over MiniLM's tokenizer."""
    from fnkit_build.examples import minilm
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    options = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    module = _MeanPooled(BertModel._from_config(config, **options)).eval()
    folder = minilm.model_dir()
    tokenizer = folder / "tokenizer.json"
    golden = [["Hello world", "A longer sentence about the weather today."], [" ".join(["word"] * 40)]]
    return ModelBundle(
        module=module,
        example_inputs=minilm.tokenize(minilm.SENTENCES[:2], tokenizer, TINY_BERT_MAX_LENGTH),
        eval_inputs=minilm.tokenize(minilm.SENTENCES, tokenizer, TINY_BERT_MAX_LENGTH),
        tokenizer_dir=folder,
        golden_requests=[{"inputs": golden[0]}, {"inputs": golden[1], "truncate": True}],
        golden_feeds=[minilm.tokenize(texts, tokenizer, TINY_BERT_MAX_LENGTH) for texts in golden],
    )


SATURATING_FEATURES = 64


def saturating() -> ModelBundle:
    """Saturates u8×s8 on AVX2 without reduce_range: inputs in [0, 1] quantize to u8 near 255, and rows
    of same-sign weights near the row's maximum quantize to ±127, so `vpmaddubsw`'s int16 pair sums
    (255·127·2 = 64,770) overflow; with 7-bit weights (255·63·2 = 32,130) they fit."""
    torch.manual_seed(0)
    module = nn.Linear(SATURATING_FEATURES, CLASSES)
    with torch.no_grad():
        weight = torch.rand(CLASSES, SATURATING_FEATURES) * 0.1 + 1.0
        weight[1] *= -1
        weight[2] = torch.randn(SATURATING_FEATURES)
        module.weight.copy_(weight)
        module.bias.zero_()
    x = np.random.default_rng(0).random((48, SATURATING_FEATURES), dtype=np.float32)
    return ModelBundle(
        module=module.eval(),
        example_inputs={"x": x[:2]},
        eval_inputs={"x": x},
        golden_requests=[{"inputs": x[:1].tolist()}, {"inputs": x[1:4].tolist()}],
        golden_feeds=[{"x": x[:1]}, {"x": x[1:4]}],
    )
