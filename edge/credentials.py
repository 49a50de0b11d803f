"""Secrets read from files that only their owner may read, as ssh insists for its keys.

Standard library only: the agent reads its broker secret with it, and the server's services
read theirs the same way.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edge.errors import EdgeError

# systemd's LoadCredential= puts a service's secrets here, readable by that service alone.
CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"
MAX_SECRET_BYTES = 4096


class CredentialError(EdgeError, ValueError):
    """A secret file is missing, unreadable, empty or readable by others; the text says which."""


def read_secret_file(path: Path) -> str:
    """The secret in `path` without surrounding whitespace; refuse a file others can read."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise CredentialError(
                    f"{path} is accessible to group or others (mode "
                    f"{stat.S_IMODE(info.st_mode):04o}); make it 0600 or 0400"
                )
            raw = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise CredentialError(f"cannot read the secret file {path}: {exc.strerror}") from exc
    if len(raw) > MAX_SECRET_BYTES:
        raise CredentialError(f"{path} is larger than a secret ({MAX_SECRET_BYTES} bytes)")
    try:
        secret = raw.decode().strip()
    except UnicodeDecodeError as exc:
        raise CredentialError(f"{path} is not UTF-8 text") from exc
    if not secret:
        raise CredentialError(f"{path} is empty")
    return secret


def write_secret_file(path: Path, secret: str) -> Path:
    """Write `secret` to `path` with mode 0600 from the moment the file exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"{secret}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def systemd_credential(name: str) -> Path | None:
    """The file of credential `name` that systemd passed to this service, if any."""
    directory = os.environ.get(CREDENTIALS_DIRECTORY)
    if not directory:
        return None
    candidate = Path(directory) / name
    return candidate if candidate.exists() else None
