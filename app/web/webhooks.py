"""Channel webhooks: Shopify and WooCommerce post orders here, signed with the channel's secret."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.extensions import csrf
from app.services.intake import receive_webhook

# Channels authenticate by signature, not by session: no login and no CSRF token here.
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
MAX_BODY_BYTES = 2_000_000


@bp.post("/shopify/<channel_code>")
def shopify(channel_code: str):
    return _receive("shopify", channel_code)


@bp.post("/woocommerce/<channel_code>")
def woocommerce(channel_code: str):
    return _receive("woocommerce", channel_code)


def _receive(source: str, channel_code: str):
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return jsonify({"status": "too_large", "message": f"Bodies over {MAX_BODY_BYTES} bytes are refused."}), 413
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        return jsonify({"status": "too_large", "message": f"Bodies over {MAX_BODY_BYTES} bytes are refused."}), 413
    answer = receive_webhook(source, channel_code, request.headers, body)
    return jsonify(answer.body()), answer.http_status
