"""Contract files in a Google Cloud Storage bucket, through the official `google-cloud-storage` client.

The client is synchronous: every call runs in a worker thread (`anyio.to_thread`) with a time-out, and retries are
short and bounded, so an unreachable store becomes `StorageUnavailable` within about STORAGE_TIMEOUT_SECONDS rather
than a hung request. Download URLs are V4 signed URLs when the credentials can sign (a service-account key);
otherwise `signed_url` is None and the app serves the file itself through `/files/{token}`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, BinaryIO
from urllib.parse import quote

import anyio
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry, if_transient_error
from google.auth.credentials import AnonymousCredentials, Signing
from google.cloud import storage
from google.oauth2 import service_account

from integrations.storage.base import CHUNK, KEY, ObjectMissing, StorageUnavailable

log = logging.getLogger("customer_graph.storage")

# What "unreachable" looks like from the client: connection errors, time-outs, 5xx/429, auth refusals.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    api_exceptions.ServerError,
    api_exceptions.TooManyRequests,
    api_exceptions.Forbidden,
    api_exceptions.Unauthorized,
    api_exceptions.RetryError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def _is_unavailable(error: BaseException) -> bool:
    if isinstance(error, _UNAVAILABLE):
        return True
    # requests / urllib3 / google-resumable-media errors, without importing each of them
    module = type(error).__module__
    return module.startswith(("requests", "urllib3", "google.resumable_media", "google.auth"))


class GcsStorage:
    name = "gcs"

    def __init__(self, client: storage.Client, bucket: str, *, timeout: float = 30.0) -> None:
        self.client = client
        self.bucket = client.bucket(bucket)
        self.timeout = timeout
        self.retry = Retry(predicate=if_transient_error, initial=0.2, maximum=2.0, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Any) -> GcsStorage:
        """Bucket, project, credentials and emulator endpoint from `StorageSettings`."""
        options: dict[str, Any] = {}
        credentials: Any = None
        if settings.gcs_credentials_file:
            credentials = service_account.Credentials.from_service_account_file(settings.gcs_credentials_file)
        if settings.gcs_endpoint:
            options["api_endpoint"] = settings.gcs_endpoint
            credentials = credentials or AnonymousCredentials()  # an emulator needs none
        client = storage.Client(
            project=settings.gcs_project or "customer-graph",
            credentials=credentials,
            client_options=options or None,
        )
        return cls(client, settings.gcs_bucket, timeout=settings.timeout_seconds)

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            with anyio.fail_after(self.timeout + 5):
                return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs), abandon_on_cancel=True)
        except api_exceptions.NotFound:
            raise
        except (TimeoutError, anyio.get_cancelled_exc_class()) as error:
            if isinstance(error, TimeoutError):
                raise StorageUnavailable("gcs: timed out") from error
            raise
        except Exception as error:
            if _is_unavailable(error):
                raise StorageUnavailable(f"gcs: {type(error).__name__}") from error
            raise

    def _key(self, key: str) -> str:
        if not KEY.match(key):
            raise ValueError("invalid storage key")
        return key

    async def put(self, key: str, source: BinaryIO, *, size: int, content_type: str) -> None:
        blob = self.bucket.blob(self._key(key))
        # if_generation_match=0: only create, never overwrite; makes the upload safe to retry.
        try:
            await self._call(
                blob.upload_from_file,
                source,
                size=size,
                content_type=content_type,
                if_generation_match=0,
                timeout=self.timeout,
                retry=self.retry,
            )
        except api_exceptions.NotFound as error:  # the bucket itself is missing
            raise StorageUnavailable("gcs: bucket not found") from error

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        blob = self.bucket.blob(self._key(key))
        try:
            reader = await self._call(blob.open, "rb", chunk_size=CHUNK, timeout=self.timeout, retry=self.retry)
            first = await self._call(reader.read, CHUNK)
        except api_exceptions.NotFound:
            raise ObjectMissing(key)
        try:
            chunk = first
            while chunk:
                yield chunk
                chunk = await self._call(reader.read, CHUNK)
        finally:
            await anyio.to_thread.run_sync(reader.close)

    async def delete(self, key: str) -> None:
        try:
            await self._call(self.bucket.blob(self._key(key)).delete, timeout=self.timeout, retry=self.retry)
        except api_exceptions.NotFound:
            return

    async def exists(self, key: str) -> bool:
        return bool(await self._call(self.bucket.blob(self._key(key)).exists, timeout=self.timeout))

    def signed_url(self, key: str, *, filename: str, content_type: str, expires_in: int) -> str | None:
        credentials = self.client._credentials
        if not isinstance(credentials, Signing) or isinstance(credentials, AnonymousCredentials):
            return None
        ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
        return str(
            self.bucket.blob(self._key(key)).generate_signed_url(
                version="v4",
                expiration=timedelta(seconds=expires_in),
                method="GET",
                response_type=content_type,
                response_disposition=f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
                credentials=credentials,
            )
        )
