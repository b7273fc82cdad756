"""Contract files on the local disk (the development default): `<root>/contracts/<key>`.

Writes go to a temporary file beside the target and are renamed into place, so a reader never sees half a file
and a crash leaves at most a `.part` file behind. Disk I/O runs in worker threads.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import anyio

from integrations.storage.base import CHUNK, KEY, ObjectMissing, StorageUnavailable


class LocalStorage:
    name = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not KEY.match(key):  # keys are ours; anything else is refused rather than resolved
            raise ValueError("invalid storage key")
        return self.root / key

    def _put(self, key: str, source: BinaryIO, size: int) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            if os.path.getsize(tmp) != size:
                raise StorageUnavailable("short write")
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def put(self, key: str, source: BinaryIO, *, size: int, content_type: str) -> None:
        try:
            await anyio.to_thread.run_sync(self._put, key, source, size)
        except OSError as error:
            raise StorageUnavailable(f"local storage: {type(error).__name__}") from error

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await anyio.open_file(path, "rb")
        except FileNotFoundError:
            raise ObjectMissing(key)
        except OSError as error:
            raise StorageUnavailable(f"local storage: {type(error).__name__}") from error
        async with handle:
            while chunk := await handle.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        try:
            await anyio.to_thread.run_sync(self._path(key).unlink, True)
        except OSError as error:
            raise StorageUnavailable(f"local storage: {type(error).__name__}") from error

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._path(key).is_file)

    def signed_url(self, key: str, *, filename: str, content_type: str, expires_in: int) -> str | None:
        return None  # served by the app's /files/{token} route
