"""The bare floor: the least a Lambda handler serving the same artifact can do (`handler.py`).

Copied into its own task root as `floor_handler.py`, beside the same trimmed dependency layer as
fnkit's function (onnxruntime, numpy; tokenizers for text models) and the same `model/` folder. The
bench cold-starts it exactly like the other variants, so "fnkit / floor" is a ratio from one run.
"""

from __future__ import annotations

from pathlib import Path

HANDLER_FILE = Path(__file__).with_name("handler.py")
HANDLER_MODULE = "floor_handler"
HANDLER = f"{HANDLER_MODULE}.handler"
