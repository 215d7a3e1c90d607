"""Point $LATEST at a new image, wait for the update, publish a version and wait until it is Active."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from fnkit_ops.promote.alias import LambdaClient
from fnkit_ops.promote.exceptions import PublishError
from fnkit_ops.promote.report import record_dict

_WAIT_DELAY_SECONDS = 5
_WAIT_MAX_ATTEMPTS = 120
"""Up to 10 minutes: image functions are optimized after an update before they can run."""


@dataclass(frozen=True)
class Published:
    image_uri: str
    version: str
    code_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)


def publish_image(client: LambdaClient, function: str, image_uri: str) -> Published:
    """Update $LATEST's image, wait for LastUpdateStatus Successful, publish, wait for Active.

    `CodeSha256` from the update is passed to publish_version, so a concurrent code change between
    the two calls makes Lambda refuse to publish rather than publish someone else's image.
    """
    waiter_config = {"Delay": _WAIT_DELAY_SECONDS, "MaxAttempts": _WAIT_MAX_ATTEMPTS}
    try:
        updated = client.update_function_code(FunctionName=function, ImageUri=image_uri)
        client.get_waiter("function_updated_v2").wait(FunctionName=function, WaiterConfig=waiter_config)
        published = client.publish_version(
            FunctionName=function,
            CodeSha256=updated["CodeSha256"],
            Description=f"fnkit promote: {image_uri}",
        )
        version = str(published["Version"])
        client.get_waiter("published_version_active").wait(
            FunctionName=function, Qualifier=version, WaiterConfig=waiter_config
        )
    except (ClientError, WaiterError) as exc:
        raise PublishError(f"publishing {image_uri} to {function} failed: {exc}") from exc
    return Published(image_uri, version, str(published.get("CodeSha256", "")))
