"""fnkit's Lambda runtime: the inference handler and the manifest it trusts.

Imports only the runtime set (onnxruntime, numpy, aws-lambda-powertools, tokenizers).
It never imports torch, `fnkit_build` or `fnkit_ops`.
"""
