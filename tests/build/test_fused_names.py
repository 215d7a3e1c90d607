"""Fused candidates' names route to the vocabulary's candidate they are made as."""

from __future__ import annotations

import pytest
from fnkit_build.serving import FUSED_FP32, OptimizerDecl, fused_base, session_optimizers_off
from fnkit_runtime.vocabulary import Candidate


def test_fused_candidates_are_named_after_their_base_candidates() -> None:
    # GIVEN an optimizer declaration with both fusable quantizations
    decl = OptimizerDecl(
        model_type="bert",
        num_heads=12,
        hidden_size=384,
        quantization=(Candidate.INT8_DYNAMIC, Candidate.INT8_DYNAMIC_PER_CHANNEL),
    )
    # WHEN its candidates are named
    names = decl.candidates
    # THEN the fused fp32 graph comes first and each name is plain text
    assert names == ("fused-fp32", "fused-int8-dynamic", "fused-int8-dynamic-per-channel")
    assert names[0] == FUSED_FP32
    assert all(type(name) is str for name in names)


@pytest.mark.parametrize(
    ("name", "fp32", "dynamic", "per_channel"),
    [
        ("fused-fp32", True, False, False),
        ("fused-int8-dynamic", False, True, False),
        ("fused-int8-dynamic-per-channel", False, True, True),
        ("int8-dynamic", False, True, False),
    ],
)
def test_a_fused_candidate_has_its_base_candidates_properties(
    name: str, fp32: bool, dynamic: bool, per_channel: bool
) -> None:
    # WHEN a candidate's base is looked up
    base = fused_base(name)
    # THEN it is the vocabulary's candidate, with its properties
    assert isinstance(base, Candidate)
    assert (base.is_fp32, base.dynamic, base.per_channel) == (fp32, dynamic, per_channel)
    assert not base.needs_calibration


def test_a_name_outside_the_vocabulary_has_no_base() -> None:
    with pytest.raises(ValueError):
        fused_base("fused-int8-static-qdq-typo")


@pytest.mark.parametrize(
    ("fusions", "candidate", "off"),
    [
        ({"skip_layer_norm": False}, "fused-int8-dynamic-per-channel", ("SkipLayerNormFusion",)),
        ({"skip_layer_norm": False, "bias_skip_layer_norm": False}, "fused-fp32", ("SkipLayerNormFusion",)),
        ({"skip_layer_norm": False, "gelu": True}, "fused-fp32", ("SkipLayerNormFusion",)),
        ({"skip_layer_norm": False}, "int8-dynamic-per-channel", ()),
        ({"gelu_approximation": False}, "fused-fp32", ()),
        ({}, "fused-fp32", ()),
    ],
)
def test_a_fusion_turned_off_stays_off_in_onnxruntimes_session_optimizer(
    fusions: dict[str, bool], candidate: str, off: tuple[str, ...]
) -> None:
    # GIVEN an optimizer declaration that turns fusions on or off
    decl = OptimizerDecl(model_type="bert", num_heads=12, hidden_size=384, fusions=fusions)
    # THEN a fused candidate's sessions run without the graph transformers that would redo a fusion
    # turned off (once each); a plain candidate's, and a fusion onnxruntime never redoes, disable nothing
    assert session_optimizers_off(decl, candidate) == off
    assert session_optimizers_off(None, candidate) == ()
