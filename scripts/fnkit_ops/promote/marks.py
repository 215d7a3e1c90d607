"""fnkit's mark on the alias description: the shift in flight, and the artifacts rolled back before.

    fnkit:1 shift=RUN/VERSION/SHA256 rejected=H16,H16,...

- `shift` is written with every weighted shift fnkit starts (run id, target version, the target's
  CodeSha256) and removed by the write that ends it. A later run finding a weight on the alias reads
  it: fnkit's own shift to another version (a killed run) is rolled back and the promotion proceeds;
  a weight without the mark is someone else's and is left alone.
- `rejected` lists the first 16 hex digits of the CodeSha256 of versions a gate rolled back, most
  recent last (at most `MAX_REJECTED`), so the next CI run does not canary the same image again unless
  told to (`--retry-rejected`). It lives on the alias, which every run reads, not in a local file.

CloudFormation never writes the `live` alias's description (the template creates the alias once and
never updates it), so the mark is fnkit's alone. A description that is not fnkit's is replaced by the
first write.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from fnkit_ops.promote.constants import (
    MARK_PREFIX,
    MAX_ALIAS_DESCRIPTION,
    MAX_REJECTED,
    MAX_RUN_ID,
    REJECTED_HEX,
)
from fnkit_ops.promote.exceptions import PromoteUsageError
from fnkit_ops.promote.report import record_dict

_RUN_ID = re.compile(rf"^[A-Za-z0-9._-]{{1,{MAX_RUN_ID}}}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHORT = re.compile(rf"^[0-9a-f]{{{REJECTED_HEX}}}$")
_VERSION = re.compile(r"^[1-9][0-9]*$")


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise PromoteUsageError(
            f"--run-id {run_id!r} must be 1-{MAX_RUN_ID} letters, digits, '.', '_' or '-'"
        )
    return run_id


def new_run_id(now: datetime) -> str:
    """A run id unique enough to tell runs apart: UTC time and 24 random bits."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def code_digest(code_sha256: str) -> str:
    """A version's CodeSha256 as 64 lowercase hex digits: image functions report the image digest in
    hex, zip functions the sha256 in base64; anything else is hashed so it still names the code."""
    text = code_sha256.strip()
    if _SHA256.match(text.lower()):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == hashlib.sha256().digest_size:
        return raw.hex()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def short_sha(sha256: str) -> str:
    return sha256[:REJECTED_HEX]


@dataclass(frozen=True)
class Shift:
    """A weighted shift fnkit started: which run, to which version, of which image."""

    run_id: str
    version: str
    sha256: str

    def render(self) -> str:
        return f"{self.run_id}/{self.version}/{self.sha256}"

    def to_dict(self) -> dict[str, str]:
        return record_dict(self)


@dataclass(frozen=True)
class AliasMark:
    shift: Shift | None = None
    rejected: tuple[str, ...] = ()

    def render(self) -> str:
        """The description to write; empty when there is nothing to record."""
        if self.shift is None and not self.rejected:
            return ""
        parts = [MARK_PREFIX]
        if self.shift is not None:
            parts.append(f"shift={self.shift.render()}")
        if self.rejected:
            parts.append("rejected=" + ",".join(self.rejected))
        text = " ".join(parts)
        if len(text) > MAX_ALIAS_DESCRIPTION:
            raise PromoteUsageError(f"alias mark is {len(text)} characters, over {MAX_ALIAS_DESCRIPTION}")
        return text

    def shifting(self, shift: Shift) -> AliasMark:
        return replace(self, shift=shift)

    def settled(self) -> AliasMark:
        return replace(self, shift=None)

    def is_rejected(self, sha256: str) -> bool:
        return bool(sha256) and short_sha(sha256) in self.rejected

    def reject(self, sha256: str) -> AliasMark:
        """Record `sha256` as rolled back (moved to the end if already there), keeping the newest."""
        if not sha256:
            return self
        key = short_sha(sha256)
        kept = (*(r for r in self.rejected if r != key), key)
        return replace(self, rejected=kept[-MAX_REJECTED:])

    def forgive(self, sha256: str) -> AliasMark:
        """Drop `sha256` from the rejections (it was retried and promoted)."""
        key = short_sha(sha256)
        return replace(self, rejected=tuple(r for r in self.rejected if r != key))


def parse_mark(description: str) -> AliasMark | None:
    """The mark in an alias description; an empty mark for an empty description; None when the
    description is not fnkit's (any other text, or a malformed mark)."""
    words = description.split()
    if not words:
        return AliasMark()
    if words[0] != MARK_PREFIX:
        return None
    shift: Shift | None = None
    rejected: tuple[str, ...] = ()
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key == "shift":
            shift = _parse_shift(value)
            if shift is None:
                return None
        elif key == "rejected":
            rejected = tuple(value.split(","))
            if not all(_SHORT.match(r) for r in rejected):
                return None
        else:
            return None
    return AliasMark(shift, rejected)


def _parse_shift(value: str) -> Shift | None:
    parts = value.split("/")
    if len(parts) != 3:
        return None
    run_id, version, sha256 = parts
    if not (_RUN_ID.match(run_id) and _VERSION.match(version) and _SHA256.match(sha256)):
        return None
    return Shift(run_id, version, sha256)
