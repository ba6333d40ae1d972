"""JSON API tests; `bearer` is the Authorization header every one of them sends."""


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
