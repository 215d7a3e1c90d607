"""Build exceptions. Each message is one paragraph naming the model and the cause.

Exit codes are assigned in one place, `fnkit_ops.cli` (`RegistryError` → 2, any other `BuildError` → 1).
"""

from __future__ import annotations


class BuildError(Exception):
    """Base class for errors of `fnkit build`; exit code 1."""


class RegistryError(BuildError):
    """The registry file is missing, unparsable or has a bad entry; exit code 2."""


class UnknownModelError(RegistryError):
    """A model named on the command line is not in the registry (the runtime's ModelNotFoundError is
    its 404 for a route naming another model)."""


class FactoryError(BuildError):
    """A model's factory cannot be imported, fails, or returns something other than a ModelBundle."""


class CalibrationError(BuildError):
    """A static quantization candidate has no (or an unusable) calibration set."""


class ExportError(BuildError):
    """torch.onnx.export failed or produced a graph that onnx.checker rejects."""


class DynamicAxisError(ExportError):
    """A declared dynamic axis (batch, sequence) was specialized to a fixed size by the exporter."""


class ParityError(BuildError):
    """ONNX Runtime fp32 outputs differ from torch beyond the model's tolerance."""


class QuantizationError(BuildError):
    """onnxruntime.quantization failed on a candidate."""


class GateError(BuildError):
    """No candidate, fp32 included, meets the model's accuracy gate."""


class PackageError(BuildError):
    """The artifact and manifest could not be written."""


class CpuEmulationError(BuildError):
    """A target CPU class cannot be emulated here, or its emulation root failed to build or run."""
