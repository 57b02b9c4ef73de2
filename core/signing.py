"""Signed, expiring download URLs: an HMAC over what the URL grants and until when."""

import hashlib
import hmac


def signature(secret: str, project_id: str, file_id: str, expires: int) -> str:
    message = f"{project_id}:{file_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, project_id: str, file_id: str, expires: int, given: str) -> bool:
    return hmac.compare_digest(signature(secret, project_id, file_id, expires), given)
