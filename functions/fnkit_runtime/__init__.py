"""fnkit's Lambda runtime: the inference handler and the manifest it trusts.

Imports only the runtime set (onnxruntime, numpy, aws-lambda-powertools, tokenizers).
It never imports torch, `fnkit_build` or `fnkit_ops`.
"""

import os as _os

# Before anything imports numpy: its OpenBLAS starts one thread per visible core at import, which
# costs ~100-150 ms of every cold start, and Lambda shows 2 cores even at 0.58 vCPU. The function
# runs no BLAS work worth threads (inference threads are onnxruntime's own), so default to one.
# The name is OpenBLAS's own; constants.OPENBLAS_THREADS_ENV documents it with the others.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
