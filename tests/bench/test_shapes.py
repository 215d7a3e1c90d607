"""The text-shapes section's pure parts: the long texts it builds and the targets it reports."""

from __future__ import annotations

from fnkit_ops.bench.shapes import (
    SHAPES,
    VARIANT_FUSED,
    ShapesResult,
    ShapeTiming,
    long_text,
    render_shapes,
    shape_targets,
    shape_texts,
)

SENTENCES = [f"sentence number {i} here" for i in range(10)]


def _words(text: str) -> int:
    return len(text.split()) + 2  # a whitespace "tokenizer" with [CLS] and [SEP]


def test_long_texts_are_just_over_the_limit_and_differ_from_each_other() -> None:
    # WHEN the shapes' texts are built for a limit of 40 "tokens"
    texts = shape_texts(SENTENCES, _words, 40)

    # THEN the long ones pass the limit by less than one sentence, the mixed request has one of them
    longs = texts[SHAPES[2]]
    assert len(longs) == 8 and len(set(longs)) == 8
    assert all(40 < _words(text) <= 40 + 4 for text in longs)
    assert [_words(t) > 40 for t in texts[SHAPES[1]]] == [False] * 7 + [True]
    assert long_text(SENTENCES, 3, _words, 40).startswith(SENTENCES[3])


def _result(shipped_long: float, torch_long: float, mixed: float, invariance: float) -> ShapesResult:
    times = {
        ("onnx-shipped", SHAPES[2]): shipped_long,
        ("torch-eager-fp32", SHAPES[2]): torch_long,
        (VARIANT_FUSED, SHAPES[2]): shipped_long * 1.1,
        ("onnx-shipped", SHAPES[1]): mixed,
    }
    timings = [ShapeTiming(v, s, [], t) for (v, s), t in times.items()]
    timings += [
        ShapeTiming(v, SHAPES[0], [], 1.0) for v in ("onnx-shipped", "torch-eager-fp32", VARIANT_FUSED)
    ]
    timings += [ShapeTiming(v, SHAPES[1], [], 9.0) for v in ("torch-eager-fp32", VARIANT_FUSED)]
    return ShapesResult(
        model="m",
        shipped_variant="fused-int8-dynamic-per-channel",
        shipped_execution="per_item",
        shipped_fused_operators={"Attention": 6},
        fused_int8_operators={"Attention": 6},
        load_before="1 1 1",
        load_after="1 1 1",
        timings=timings,
        invariance_max_abs=invariance,
        accuracy={"metric": 0.995, "nearest_neighbour_agreement": 1.0},
        targets={},
    )


def test_targets_are_the_measured_ratios_against_the_issue_limits() -> None:
    # GIVEN a run where the shipped path is 1.9x faster than torch and invariance is broken
    result = _result(shipped_long=100.0, torch_long=190.0, mixed=20.0, invariance=3e-2)

    # WHEN the targets are computed
    targets = shape_targets(result)

    # THEN each is the ratio of the figures, judged against the issue's limit
    assert abs(targets["8xlong_shipped_over_torch"]["value"] - 100 / 190) < 1e-12
    assert targets["8xlong_shipped_over_torch"]["met"] is False
    assert targets["8xlong_shipped_over_fused_int8"]["met"] is True
    assert targets["mixed_over_8xlong_shipped"]["value"] == 0.2
    assert targets["mixed_over_8xlong_shipped"]["met"] is True
    assert targets["batch_invariance_max_abs"]["met"] is False
    assert targets["cosine_mean_to_torch"]["met"] is True


def test_the_markdown_has_every_variant_and_target() -> None:
    result = _result(100.0, 250.0, 30.0, 0.0)
    text = render_shapes(ShapesResult(**{**result.__dict__, "targets": shape_targets(result)}))
    for name in ("onnx-shipped", "torch-eager-fp32", VARIANT_FUSED, "8xlong_shipped_over_torch", "per_item"):
        assert name in text
