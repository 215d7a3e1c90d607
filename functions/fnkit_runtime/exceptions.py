"""Runtime exceptions. HTTP statuses are assigned in one place: `fnkit_runtime.error_responses`.

Request errors (`RequestError` and below) carry messages the runtime writes itself: shapes, counts,
limits and manifest names, never client-supplied text, file paths or third-party exception text, so
they are safe to return to clients. Server errors are logged in full and answered with a fixed text.
"""

from __future__ import annotations


class FnkitRuntimeError(Exception):
    """Base class for errors raised by the function's runtime."""


class ManifestError(FnkitRuntimeError):
    """The manifest or the artifact it describes is missing, malformed or does not match."""


# --- server side: the function cannot serve (5xx) -----------------------------------------------
class ConfigError(FnkitRuntimeError):
    """The function's environment configuration is missing or invalid."""


class ModelLoadError(FnkitRuntimeError):
    """The model could not be loaded: artifact missing, corrupt, mismatched or unusable."""


class ModelOutputError(FnkitRuntimeError):
    """The model produced outputs the function refuses to return (mis-shaped)."""


class SnapshotCheckError(FnkitRuntimeError):
    """Before a SnapStart snapshot, a golden sample's outputs did not match the manifest's."""


# --- client side: the request is wrong (4xx) ------------------------------------------------------
class RequestError(FnkitRuntimeError):
    """Base class for errors in a client's request; the message is safe to return."""


class EventFormatError(RequestError):
    """The Lambda event is not a supported shape (API Gateway v1/v2, Function URL, direct, warm-up)."""


class RouteNotFoundError(RequestError):
    """No route matches the request path."""


class ModelNotFoundError(RequestError):
    """The path names a model this function does not serve."""


class MethodNotAllowedError(RequestError):
    """The route exists but not for this HTTP method."""


class BodyTooLargeError(RequestError):
    """The request body is larger than the function accepts."""


class BodyFormatError(RequestError):
    """The request body is not valid JSON of the expected shape."""


class InputNameError(RequestError):
    """The inputs are missing a tensor the model needs or name one it does not have."""


class InputDtypeError(RequestError):
    """A tensor's values are not of the kind the model's signature declares."""


class InputShapeError(RequestError):
    """A tensor's rank or dimensions do not match the model's signature."""


class InputValueError(RequestError):
    """A tensor holds values the function refuses (NaN/inf, out of range, or overflowing the model)."""


class BatchSizeError(RequestError):
    """The batch is empty or larger than the function's limit."""


class ModelInputRejectedError(RequestError):
    """onnxruntime refused the input values at run time (an invalid argument, e.g. an index)."""


class NpyDecodeError(RequestError):
    """A base64 `.npy` input could not be decoded."""


class TextInputError(RequestError):
    """Text inputs are not a string or a list of strings within the length limit."""


class TokenLimitError(RequestError):
    """A text item has more tokens than the model's limit and the request does not truncate."""
