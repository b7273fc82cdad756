"""Where contract files live, behind one small interface: Google Cloud Storage or the local disk.

The interface, its errors and its keys are in base.py, which the backends import, so that this module can import
the backends; its names are re-exported here.
"""

from __future__ import annotations

from typing import Any

from integrations.storage.base import CHUNK, KEY, ObjectMissing, Storage, StorageUnavailable, new_key
from integrations.storage.gcs import GcsStorage
from integrations.storage.local import LocalStorage

__all__ = ["CHUNK", "KEY", "ObjectMissing", "Storage", "StorageUnavailable", "new_key", "storage_from_settings"]


def storage_from_settings(storage: Any) -> Storage:
    """The backend STORAGE_BACKEND names, configured from the `StorageSettings` given."""
    if storage.backend == "gcs":
        return GcsStorage.from_settings(storage)
    return LocalStorage(storage.local_path)
