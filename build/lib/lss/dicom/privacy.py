"""patient_key: a keyed one-way hash of PatientID, so no manifest, run or figure carries the raw ID."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

PATIENT_KEY_ENV = "LSS_PATIENT_KEY"
DEFAULT_SECRET_FILE = Path("~/.cache/lss/patient_key.secret")
PATIENT_KEY_HEX_DIGITS = 16
"""64 bits: collisions are negligible for hospital-sized repositories, and the key stays short."""


def load_patient_secret(secret_file: Path = DEFAULT_SECRET_FILE) -> bytes:
    """The HMAC key: $LSS_PATIENT_KEY if set, else a random secret created once (mode 0600) and reused.

    Reusing the secret keeps patient_key stable across runs, so splits by patient stay stable.
    """
    from_env = os.environ.get(PATIENT_KEY_ENV)
    if from_env:
        return from_env.encode("utf-8")
    path = secret_file.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as secret_out:
            secret_out.write(secrets.token_hex(32))
    secret = path.read_text().strip()
    if not secret:
        raise RuntimeError(f"{path} is empty; delete it to create a new secret or set ${PATIENT_KEY_ENV}")
    return secret.encode("utf-8")


def patient_key(patient_id: str | None, secret: bytes) -> str:
    """HMAC-SHA256 of PatientID, truncated; empty when the file has no PatientID."""
    if not patient_id:
        return ""
    digest = hmac.new(secret, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PATIENT_KEY_HEX_DIGITS]
