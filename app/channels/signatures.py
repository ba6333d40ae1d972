"""HMAC-SHA256 webhook signatures as Shopify and WooCommerce send them: base64 of the digest of the raw body."""
from __future__ import annotations

import base64
import hashlib
import hmac

SHOPIFY_HEADER = "X-Shopify-Hmac-Sha256"
WOOCOMMERCE_HEADER = "X-WC-Webhook-Signature"


def shopify_signature(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify would send for this body."""
    return _base64_hmac(secret, body)


def verify_shopify(secret: str, body: bytes, header_value: object) -> bool:
    """True only when the header is the body's signature under the secret; never raises."""
    return _verify(secret, body, header_value)


def woocommerce_signature(secret: str, body: bytes) -> str:
    """The X-WC-Webhook-Signature value WooCommerce would send for this body."""
    return _base64_hmac(secret, body)


def verify_woocommerce(secret: str, body: bytes, header_value: object) -> bool:
    """True only when the header is the body's signature under the secret; never raises."""
    return _verify(secret, body, header_value)


def _base64_hmac(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _verify(secret: object, body: object, header_value: object) -> bool:
    # A channel without a secret must not accept anything, even a signature made with "".
    if not isinstance(secret, str) or not secret or not isinstance(body, bytes | bytearray):
        return False
    presented = _as_ascii(header_value)
    if presented is None:
        return False
    expected = _base64_hmac(secret, bytes(body)).encode("ascii")
    return hmac.compare_digest(expected, presented)


def _as_ascii(header_value: object) -> bytes | None:
    if isinstance(header_value, bytes | bytearray):
        value = bytes(header_value)
    elif isinstance(header_value, str):
        try:
            value = header_value.encode("ascii")
        except UnicodeEncodeError:
            return None
    else:
        return None
    value = value.strip()
    return value or None
