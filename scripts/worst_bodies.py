"""The costliest request bodies that fit under MAX_BODY_BYTES (for tests and `make soak`).

Each is refused, and each is built to make validation as expensive as the limits allow: as many
rows as fit (each missing every field), as many keys as fit, or as many unknown keys as the byte
counts of `api.validation.check_shape` let through.
"""

from __future__ import annotations


def _fill(head: bytes, item: bytes, tail: bytes, size: int) -> bytes:
    n = max(1, (size - len(head) - len(tail)) // (len(item) + 1))
    return head + b",".join([item] * n) + tail


def _object(size: int) -> bytes:
    """A JSON object of as many distinct unknown keys as fit in `size` bytes."""
    body = b"{" + b",".join(b'"k%d":0' % i for i in range(size // 8)) + b"}"
    while len(body) > size:
        body = body[: body.rindex(b",")] + b"}"
    return body


def worst_case_bodies(max_body_bytes: int, max_rows: int) -> dict[str, tuple[str, bytes]]:
    """name → (path, body), every body at most `max_body_bytes` long."""
    size = max_body_bytes - 16
    many = _object(size - 20)
    # FIELDS (18) unknown keys per flight, names padded to fill the bytes: as many errors as a body
    # can carry past the byte counts of api.validation.check_shape.
    pad = "x" * max(1, (size // max_rows - 2) // 18 - 8)
    row = ("{" + ",".join(f'"k{i}{pad}":0' for i in range(18)) + "}").encode()
    return {
        "empty flights, /v1/predict": ("/v1/predict", _fill(b'{"flights": [', b"{}", b"]}", size)),
        "empty dataframe_records, /invocations": (
            "/invocations",
            _fill(b'{"dataframe_records": [', b"{}", b"]}", size),
        ),
        "empty dataframe_split rows, /invocations": (
            "/invocations",
            _fill(b'{"dataframe_split": {"columns": [], "data": [', b"[]", b"]}}", size),
        ),
        "one flight of unknown keys, /v1/predict": ("/v1/predict", b'{"flights": [' + many + b"]}"),
        "MAX_BATCH_ROWS flights of 18 unknown keys, /v1/predict": (
            "/v1/predict",
            b'{"flights": [' + b",".join([row] * max_rows) + b"]}",
        ),
    }
