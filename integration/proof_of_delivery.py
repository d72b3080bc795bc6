"""Proof of delivery carried inside a message: checked before anything is stored.

Our native format lets a partner send the signature, photo or document itself beside
the signer's name and a link. An inline file is a risk as much as a proof: it is capped
in size, and its bytes must be what its declared type says (a "PNG" that is HTML would
be served back to users), so that only real JPEG, PNG and PDF files reach the database.
"""

import base64
import binascii
import re
from dataclasses import dataclass

from .parsing import ParseError

#: Largest inline proof accepted, decoded: a compressed photo of a signed slip fits, and
#: its base64 (4/3 larger) stays within the default 1 MiB body of a webhook.
MAX_IMAGE_BYTES = 512 * 1024
#: Declared type → the first bytes every file of that type starts with.
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
}
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
_BASE64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


@dataclass(frozen=True)
class PodFile:
    """An inline proof of delivery, checked.

    :ivar content_type: one of :data:`SIGNATURES`.
    :ivar data: the decoded bytes.
    :ivar file_name: a safe file name (no path), with the type's extension.
    """

    content_type: str
    data: bytes
    file_name: str


def check_url(value, path):
    """The POD link if it is an ``https://`` URL (anything else is no link to show users).

    :raises ParseError: for another scheme or a value that is not text.
    """
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not value.startswith("https://") or any(c.isspace() for c in value):
        raise ParseError("proof of delivery url must be an https:// URL", path)
    if len(value) > 2000:
        raise ParseError("proof of delivery url is longer than 2000 characters", path)
    return value


def decode_file(value, path, tracking_number=""):
    """Check and decode an inline proof ``{content_type, data, file_name}``.

    :param dict value: as sent; ``data`` is standard base64.
    :param str path: JSON path of ``value``, for errors.
    :rtype: PodFile | None
    :raises ParseError: for a type we do not take, base64 that does not decode, a file
        over :data:`MAX_IMAGE_BYTES`, or bytes that are not of the declared type.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ParseError("expected an object with content_type and data", path)
    content_type = value.get("content_type")
    if content_type not in SIGNATURES:
        raise ParseError(f"content_type must be one of {', '.join(SIGNATURES)}", f"{path}.content_type")
    data = value.get("data")
    if not isinstance(data, str) or not data:
        raise ParseError("missing base64 data", f"{path}.data")
    # Checked on the text first: decoding a huge value only to refuse it wastes memory.
    if len(data) > (MAX_IMAGE_BYTES + 2) // 3 * 4:
        raise ParseError(f"file larger than {MAX_IMAGE_BYTES // 1024} KiB", f"{path}.data")
    raw = data.encode("ascii", "replace")
    if len(raw) % 4 or not _BASE64.match(raw):
        raise ParseError("data is not standard base64", f"{path}.data")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError("data is not standard base64", f"{path}.data") from None
    if len(decoded) > MAX_IMAGE_BYTES:
        raise ParseError(f"file larger than {MAX_IMAGE_BYTES // 1024} KiB", f"{path}.data")
    if not decoded.startswith(SIGNATURES[content_type]):
        raise ParseError(f"data is not a {content_type} file", f"{path}.data")
    name = value.get("file_name")
    # Only the last part of a path, and no character a file system or a header minds.
    name = name.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(name, str) else ""
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    extension = _EXTENSIONS[content_type]
    if not name:
        name = f"proof-of-delivery-{tracking_number or 'shipment'}.{extension}"
    elif not name.lower().endswith(f".{extension}"):
        name = f"{name}.{extension}"
    return PodFile(content_type, decoded, name[:255])
