"""Encryption at rest for connector secrets (webhook secrets, API keys).

Secrets are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256, authenticated). The key
that protects them must never live in the database it protects, so :func:`load_key`
only looks at the server configuration, the environment and a key file beside Odoo's
data directory. Several keys can be active at once: the first encrypts, the others are
older keys still accepted for decryption while tokens are rotated.
"""

import base64
import binascii
import hashlib
import os
import re
import stat
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

CONFIG_OPTION = "shipment_visibility_key"
ENV_VAR = "SHIPMENT_VISIBILITY_KEY"
KEY_DIR = "shipment_visibility"
KEY_FILE = "secret.key"

SOURCE_CONFIG = "config"
SOURCE_ENVIRONMENT = "environment"
SOURCE_KEY_FILE = "key_file"

_KEY_SEPARATORS = re.compile(r"[\s,]+")


# Decrypted secrets a box keeps in memory (a few per connector are in use at a time).
MAX_DECRYPTED_CACHED = 256

class SecretBoxError(Exception):
    """A secret cannot be encrypted or decrypted, or no usable key is configured.

    Messages name the key by position or fingerprint, never by value, and never repeat
    a token or a plaintext.
    """


@dataclass(frozen=True)
class KeySource:
    """Where the encryption keys came from.

    :ivar tuple keys: Fernet keys, current first.
    :ivar str source: ``config``, ``environment`` or ``key_file``.
    :ivar path: the key file for ``key_file``, else ``None``.
    """

    keys: tuple
    source: str
    path: str | None = None

    def __repr__(self):
        # The default repr would print the keys into logs and tracebacks.
        prints = ", ".join(fingerprint(key) for key in self.keys)
        return f"KeySource(keys=[{prints}], source={self.source!r}, path={self.path!r})"


class SecretBox:
    """Encrypts and decrypts secrets with one current key and any number of older ones.

    :param keys: one key (``str``/``bytes``) or an iterable of keys, current first.
    :raises SecretBoxError: without keys or with a key that is not a Fernet key.
    """

    def __init__(self, keys):
        if isinstance(keys, (str, bytes)):
            keys = [keys]
        keys = [key for key in (keys or ()) if key]
        if not keys:
            raise SecretBoxError("no encryption key given")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(_key_bytes(key)))
            except (ValueError, TypeError, binascii.Error):
                raise SecretBoxError(
                    f"key #{position} is not a Fernet key (32 url-safe base64-encoded bytes)"
                ) from None
        self._fingerprints = tuple(fingerprint(key) for key in keys)
        self._fernet = MultiFernet(fernets)
        # Token → secret: the webhook route decrypts the same few secrets on every call.
        # Only tokens that decrypted are kept, and a new key set starts a new box.
        self._decrypted = {}

    def __repr__(self):
        return f"SecretBox(current={self._fingerprints[0]}, older={list(self._fingerprints[1:])})"

    @property
    def fingerprint(self):
        """Fingerprint of the key new tokens are encrypted with.

        :rtype: str
        """
        return self._fingerprints[0]

    def encrypt(self, text):
        """Encrypt ``text`` under the current key.

        :param str text: the secret.
        :return: a Fernet token (URL-safe ASCII).
        :rtype: str
        """
        if not isinstance(text, str):
            raise TypeError("only text secrets are encrypted")
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token):
        """Decrypt a token made by :meth:`encrypt` with any of the keys.

        :param str token: the stored token.
        :rtype: str
        :raises SecretBoxError: when the token was altered, made with an unknown key, or
            is not a token at all.
        """
        secret = self._decrypted.get(token) if isinstance(token, str) else None
        if secret is not None:
            return secret
        try:
            secret = self._fernet.decrypt(_token_bytes(token)).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise SecretBoxError(
                "cannot decrypt the secret: it was altered or encrypted with a key that is not configured"
            ) from None
        if len(self._decrypted) >= MAX_DECRYPTED_CACHED:
            self._decrypted.clear()
        if isinstance(token, str):
            self._decrypted[token] = secret
        return secret

    def rotate(self, token):
        """Re-encrypt a token under the current key so older keys can be retired.

        :param str token: a token made with any configured key.
        :return: a token made with the current key.
        :rtype: str
        :raises SecretBoxError: as :meth:`decrypt`.
        """
        try:
            return self._fernet.rotate(_token_bytes(token)).decode("ascii")
        except InvalidToken:
            raise SecretBoxError(
                "cannot rotate the secret: it was altered or encrypted with a key that is not configured"
            ) from None


def generate_key():
    """A new random Fernet key.

    :rtype: str
    """
    return Fernet.generate_key().decode("ascii")


def fingerprint(key):
    """Short, non-reversible identifier of a key, safe to display and log.

    :param key: a Fernet key (``str`` or ``bytes``).
    :return: the first 8 hex digits of its SHA-256.
    :rtype: str
    """
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    return hashlib.sha256(raw.strip()).hexdigest()[:8]


def load_key(config_value=None, env=os.environ, data_dir=None):
    """Find the encryption keys, in order: server option, environment, key file.

    Each source may list several keys separated by commas: the first is current, the
    others are older keys still accepted for decryption. When neither the option
    ``shipment_visibility_key`` nor the variable ``SHIPMENT_VISIBILITY_KEY`` is set,
    the key file ``<data_dir>/shipment_visibility/secret.key`` is used, created with a
    fresh key on first use.

    :param str config_value: value of the Odoo server option ``shipment_visibility_key``.
    :param env: the process environment.
    :param str data_dir: Odoo's data directory (``config['data_dir']``).
    :rtype: KeySource
    :raises SecretBoxError: when a source holds an invalid key, when the key file is
        readable by group or others, or when no source is available.
    """
    if config_value and config_value.strip():
        return KeySource(_parse_keys(config_value, f"server option {CONFIG_OPTION}"), SOURCE_CONFIG)
    env_value = (env or {}).get(ENV_VAR)
    if env_value and env_value.strip():
        return KeySource(_parse_keys(env_value, f"environment variable {ENV_VAR}"), SOURCE_ENVIRONMENT)
    if not data_dir:
        raise SecretBoxError(f"no encryption key: set the server option {CONFIG_OPTION} or {ENV_VAR}")
    directory = os.path.join(os.fspath(data_dir), KEY_DIR)
    path = os.path.join(directory, KEY_FILE)
    _ensure_private_directory(directory)
    if not os.path.exists(path):
        _create_key_file(path)
    return KeySource(_read_key_file(path), SOURCE_KEY_FILE, path)


def _parse_keys(value, origin):
    keys = tuple(part for part in _KEY_SEPARATORS.split(value.strip()) if part)
    # Validating here surfaces a mistyped key at start-up, not at the first decryption.
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
            raise SecretBoxError(f"key #{position} in {origin} is not a Fernet key") from None
    if not keys:
        raise SecretBoxError(f"{origin} holds no key")
    return keys


def _ensure_private_directory(directory):
    try:
        os.makedirs(directory, mode=0o700)
    except FileExistsError:
        pass
    if os.name != "posix":
        return
    mode = os.stat(directory).st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        # Anyone who can write the directory can swap the key file under us.
        raise SecretBoxError(f"{directory} is writable by group or others: run chmod 700 on it")


def _create_key_file(path):
    """Write a fresh key so that concurrent workers all end up with the same one.

    The key is written to a private temporary file and hard-linked into place: the link
    fails if another worker got there first, and readers never see a half-written file.
    """
    temporary = f"{path}.{os.getpid()}.{base64.urlsafe_b64encode(os.urandom(6)).decode()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(generate_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:
            # Some file systems have no hard links; O_EXCL still keeps the first writer.
            _create_key_file_without_link(path)
    finally:
        os.unlink(temporary)


def _create_key_file_without_link(path):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(generate_key() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _read_key_file(path):
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise SecretBoxError(f"{path} is not a regular file")
    if os.name == "posix" and info.st_mode & 0o077:
        raise SecretBoxError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(info.st_mode):o}): run chmod 600 on it"
        )
    with open(path, encoding="ascii", errors="replace") as handle:
        return _parse_keys(handle.read(), f"key file {path}")


def _key_bytes(key):
    return key.encode("ascii") if isinstance(key, str) else bytes(key)


def _token_bytes(token):
    if isinstance(token, bytes):
        return token
    if not isinstance(token, str):
        raise SecretBoxError("a secret token must be text")
    try:
        return token.encode("ascii")
    except UnicodeEncodeError:
        raise SecretBoxError("a secret token is plain ASCII; this value is not a token") from None
