"""What an Idempotency-Key's row remembers of the request (`Asked.fingerprint`): the method, the
path and the body as canonical JSON — so a retry that spells its JSON otherwise is the same
request, and rows stored by an earlier version of the API still match their retries."""

from __future__ import annotations

import hashlib

from app.core.idempotency import Asked


def test_a_retry_spelling_its_json_otherwise_is_the_same_request() -> None:
    sent = Asked("POST", "/v1/auctions/a/bids", b'{"b": 1, "a": [1, 2], "c": "\\u51fa\\u4ef7"}')
    again = Asked("POST", "/v1/auctions/a/bids", '{"a":[1,2],"c":"出价","b":1}'.encode())

    assert sent.fingerprint() == again.fingerprint()


def test_another_method_path_or_body_is_another_request() -> None:
    sent = Asked("POST", "/v1/auctions/a/bids", b'{"a": [1, 2]}')

    assert (
        len(
            {
                sent.fingerprint(),
                Asked("PUT", sent.path, sent.body).fingerprint(),
                Asked(sent.method, "/v1/auctions/b/bids", sent.body).fingerprint(),
                Asked(sent.method, sent.path, b'{"a": [2, 1]}').fingerprint(),
            }
        )
        == 4
    )


def test_the_fingerprint_is_the_one_stored_rows_hold() -> None:
    # SHA-256 of method, path and body (sorted, compact JSON, or the bytes as they came when
    # they are not JSON), each followed by a NUL: what rows already stored were written with.
    json_body = Asked("POST", "/v1/results", b'{"title": "\xe4\xb8\x93\xe5\x88\xa9", "a": 1}')
    not_json = Asked("POST", "/v1/results", b"\xb1{")

    assert (
        json_body.fingerprint()
        == hashlib.sha256(b'POST\0/v1/results\0{"a":1,"title":"\\u4e13\\u5229"}\0').hexdigest()
    )
    assert not_json.fingerprint() == hashlib.sha256(b"POST\0/v1/results\0\xb1{\0").hexdigest()
