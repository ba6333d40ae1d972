import base64
import hmac

import pytest

from app.channels.signatures import shopify_signature, verify_shopify, verify_woocommerce, woocommerce_signature

SECRET = "hush"
BODY = b'{"id":450789469}'
# Computed independently: printf %s '{"id":450789469}' | openssl dgst -sha256 -hmac hush -binary | base64
KNOWN_SIGNATURE = "QPF8T1ti8Gpf6xXRoKZDI2G/2Fp8v4tKnau8MqDdx3o="

SCHEMES = [(shopify_signature, verify_shopify), (woocommerce_signature, verify_woocommerce)]


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
def test_a_signature_matches_openssls_base64_hmac_sha256_and_verifies(sign, verify):
    assert sign(SECRET, BODY) == KNOWN_SIGNATURE
    assert verify(SECRET, BODY, KNOWN_SIGNATURE)
    assert verify(SECRET, BODY, KNOWN_SIGNATURE.encode("ascii"))


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
def test_a_tampered_body_or_another_secret_fails(sign, verify):
    signature = sign(SECRET, BODY)
    assert not verify(SECRET, BODY.replace(b"469", b"470"), signature)
    assert not verify(SECRET, BODY + b" ", signature)
    assert not verify("another secret", BODY, signature)


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
@pytest.mark.parametrize(
    "header",
    [None, "", "   ", "not base64!!", "é", "QPF8T1ti8Gpf6xXRoKZDI2G/2Fp8v4tKnau8MqDdx3o", 12345, b"", ["x"]],
)
def test_a_missing_empty_or_garbage_header_fails_without_raising(sign, verify, header):
    assert verify(SECRET, BODY, header) is False


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
def test_a_channel_without_a_secret_accepts_nothing(sign, verify):
    signed_with_empty_key = base64.b64encode(hmac.new(b"", BODY, "sha256").digest()).decode()
    assert not verify("", BODY, signed_with_empty_key)
    assert not verify(None, BODY, signed_with_empty_key)


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
def test_a_body_that_is_not_bytes_fails_without_raising(sign, verify):
    assert not verify(SECRET, BODY.decode(), sign(SECRET, BODY))
