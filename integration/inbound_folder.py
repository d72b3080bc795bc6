"""The folder a file partner drops its files into: what is ready, and where it goes after.

Partners (or their SFTP server) write files into a folder on our server; the watcher
imports each one when it is complete and moves it to ``done/`` or ``failed/`` beside
it, so the folder only ever holds what is still to do. Nothing here imports Odoo.
"""

import os
import shutil
import time
from pathlib import Path

#: Names of files still being written, by convention of most transfer tools.
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial")


class OutsideRoot(ValueError):
    """The configured folder lies outside the directory every inbound folder must sit in."""


def resolve_inside(root, folder):
    """The absolute folder, checked to be ``root`` or below it (symbolic links resolved).

    :param root: the directory every inbound folder must sit in.
    :param folder: absolute, or relative to ``root``.
    :rtype: Path
    :raises OutsideRoot: for a folder elsewhere (``../``, an absolute path, a link out).
    """
    root = Path(root).resolve()
    folder = Path(folder or "").expanduser()
    path = (folder if folder.is_absolute() else root / folder).resolve()
    if path != root and root not in path.parents:
        raise OutsideRoot(f"{folder} is outside {root}")
    return path


def ready_files(folder, settle_seconds, now=None):
    """Complete files waiting in ``folder``, oldest first.

    A file changed in the last ``settle_seconds``, hidden, named like a partial transfer
    or reached through a symbolic link waits (or is never taken).

    :raises OSError: when ``folder`` is not a readable directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise OSError(f"{folder} is not a directory")
    settled = (time.time() if now is None else now) - settle_seconds
    ready = []
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.suffix.lower() in PARTIAL_SUFFIXES:
            continue
        if entry.is_file() and not entry.is_symlink() and entry.stat().st_mtime <= settled:
            ready.append(entry)
    return sorted(ready, key=lambda entry: (entry.stat().st_mtime, entry.name))


def move_done(path, folder_name, stamp, reason=None):
    """Move a handled file into ``folder_name`` beside it (``done`` or ``failed``).

    A file of the same name there already (a partner resending) is kept: the newer one
    gets ``stamp`` and the process id in its name. A ``reason`` is written beside the
    moved file as ``<name>.error.txt``.

    :return: where the file went.
    :rtype: Path
    """
    path = Path(path)
    target_dir = path.parent / folder_name
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    if target.exists():
        target = target_dir / f"{path.stem}.{stamp}.{os.getpid()}{path.suffix}"
    shutil.move(str(path), str(target))
    if reason:
        target.with_name(f"{target.name}.error.txt").write_text(reason + "\n", encoding="utf-8")
    return target
