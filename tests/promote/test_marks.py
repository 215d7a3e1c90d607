"""fnkit's mark in the alias description: what it says, what is not fnkit's, and its size limit."""

from __future__ import annotations

import base64
import hashlib

import pytest
from fnkit_ops.promote.marks import AliasMark, Shift, code_digest, parse_mark

SHA = hashlib.sha256(b"image").hexdigest()
OTHER = hashlib.sha256(b"other").hexdigest()


def test_a_mark_reads_back_as_written():
    # GIVEN a shift in flight and two rejected images
    mark = AliasMark(Shift("gh-812-1", "7", SHA)).reject(OTHER).reject(SHA)

    # WHEN rendered and parsed again
    text = mark.render()

    # THEN the same mark, in Lambda's 256 characters
    assert parse_mark(text) == mark
    assert text == f"fnkit:1 shift=gh-812-1/7/{SHA} rejected={OTHER[:16]},{SHA[:16]}"
    assert mark.is_rejected(SHA) and not mark.is_rejected(hashlib.sha256(b"new").hexdigest())


@pytest.mark.parametrize(
    "description",
    [
        pytest.param("manual test of version 3", id="someone-elses-text"),
        pytest.param("fnkit:2 shift=a/7/" + SHA, id="unknown-mark-version"),
        pytest.param("fnkit:1 shift=a/7", id="shift-without-sha"),
        pytest.param("fnkit:1 shift=a/$LATEST/" + SHA, id="unpublished-version"),
        pytest.param("fnkit:1 shift=a b/7/" + SHA, id="space-in-run-id"),
        pytest.param("fnkit:1 rejected=xyz", id="bad-rejection"),
        pytest.param("fnkit:1 owner=me", id="unknown-key"),
    ],
)
def test_anything_else_is_not_fnkits(description: str):
    assert parse_mark(description) is None


def test_an_empty_description_is_an_empty_mark():
    assert parse_mark("") == AliasMark() and AliasMark().render() == ""


def test_the_newest_rejections_are_kept_and_the_longest_mark_fits():
    # GIVEN more rejections than are kept, and the longest run id and version
    mark = AliasMark(Shift("r" * 40, "9999999999", SHA))
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(10)]
    for sha in shas:
        mark = mark.reject(sha)

    # THEN the six newest remain, the oldest first, and the description fits Lambda's limit
    assert mark.rejected == tuple(s[:16] for s in shas[-6:])
    assert len(mark.render()) <= 256
    # AND a retried, promoted image leaves the list
    assert shas[-1][:16] not in mark.forgive(shas[-1]).rejected


def test_code_digest_reads_image_and_zip_code_sha256():
    # GIVEN the hex digest of an image and the base64 sha256 Lambda reports for a zip
    raw = hashlib.sha256(b"zip").digest()

    # THEN both become 64 hex digits of the same sha256
    assert code_digest(SHA.upper()) == SHA
    assert code_digest(base64.b64encode(raw).decode()) == raw.hex()
    assert len(code_digest("not a digest")) == 64
