"""fnkit's build step: from a PyTorch model to a small, gated ONNX artifact plus its manifest.

Torch is used here and nowhere else. Modules, one concern each: `registry` (models.toml), `factory`
(call a model's factory), `export`, `parity`, `cpus` (target CPU classes and the quantization preset),
`quantize`, `gate`, `optimize`, `emulation` (runs on a CPU class under qemu) and `verify` (the chosen
artifact on every target class, golden tolerances), `golden`, `package`, `inference` (run torch or an
ONNX file on inputs), `pipeline` (orchestration), `progress` (the progress sink every command writes
through), `cli` (`fnkit build`). Factories return `fnkit_build.types.ModelBundle`; the shipped ones
live in `examples/`.
"""

from fnkit_build.exceptions import BuildError, RegistryError

__all__ = ["BuildError", "RegistryError"]
