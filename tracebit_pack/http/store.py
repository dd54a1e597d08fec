"""Where ``receive`` stores accepted events: ``DIR/<LogType>.jsonl``, all of a request or none of it.

Files are opened relative to a descriptor of a private folder (owned by the user, writable by no one
else), without following symlinks and without blocking (a FIFO or device there is refused at once,
never waited on while the store's lock is held), mode 0600. A batch whose idempotency key was
already stored is not stored again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections import Counter, OrderedDict
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.http.contract import LOG_TYPES, dumps_line, log_type_of

IDEMPOTENCY_MEMORY = 100_000  # keys remembered (oldest forgotten first)
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class EventStore:
    """The output folder while it is open: ``stored`` counts stored events by log type."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.stored: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._seen_keys: OrderedDict[str, int] = OrderedDict()
        self._dir_fd: int | None = None

    def open(self) -> None:
        """Open the folder; UserError if it is not private or holds an output file that is not a
        regular file (a FIFO, a device, a folder, a symlink)."""
        self._dir_fd = open_private_dir(self.out_dir)
        for log_type in LOG_TYPES:
            name = f"{log_type}.jsonl"
            try:
                info = os.stat(name, dir_fd=self._dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(info.st_mode):
                self.close()
                why = "is not a regular file; remove it or use another folder"
                raise UserError(f"--out {self.out_dir}: {name} {why}")

    def close(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)
        self._dir_fd = None

    def store(self, events: list[dict], key: str | None = None) -> bool:
        """Append ``events`` to their files, all or nothing; False if ``key`` was already stored."""
        by_type: dict[str, list[bytes]] = {}
        for event in events:
            by_type.setdefault(log_type_of(event) or "", []).append(dumps_line(event) + b"\n")
        with self._lock:
            if key is not None and key in self._seen_keys:
                self._seen_keys.move_to_end(key)
                return False
            _append_all(self._dir_fd, {f"{t}.jsonl": b"".join(lines) for t, lines in by_type.items()})
            for log_type, lines in by_type.items():
                self.stored[log_type] += len(lines)
            if key is not None:
                self._seen_keys[key] = len(events)
                while len(self._seen_keys) > IDEMPOTENCY_MEMORY:
                    self._seen_keys.popitem(last=False)
        return True


def open_private_dir(path: Path) -> int:
    """A descriptor of ``path``, created 0700 if missing; UserError unless it is a real folder the
    user owns that no one else can write to (files are then opened relative to this descriptor)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        why = "a symlink" if err.errno == errno.ELOOP else err.strerror
        raise UserError(f"--out {path}: cannot use this folder: {why}") from None
    info = os.fstat(fd)
    problem = None
    if info.st_uid != os.getuid():
        problem = "it is owned by another user"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = "others can write to it"
    if problem:
        os.close(fd)
        raise UserError(f'--out {path}: {problem}; use a private folder, e.g. --out "$(mktemp -d)"')
    return fd


def _append_all(dir_fd: int | None, chunks: dict[str, bytes]) -> None:
    """Append each chunk to its file under ``dir_fd``; on any failure truncate every file back."""
    if dir_fd is None:
        raise RuntimeError("receiver not started")
    opened: list[tuple[int, int]] = []  # (fd, size before)
    try:
        for name, data in chunks.items():
            fd = os.open(name, _OPEN_FLAGS, 0o600, dir_fd=dir_fd)
            info = os.fstat(fd)
            opened.append((fd, info.st_size))
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_nlink != 1:
                raise OSError(errno.EPERM, f"{name} is not a regular file of ours")
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
    except BaseException:
        for fd, size in opened:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
        raise
    finally:
        for fd, _ in opened:
            os.close(fd)
