"""`GET /files/{token}`: a contract download through a signed, expiring token (no bearer token: the token is the
permission). Streams from storage with the stored content type, as an attachment with a safe filename."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from integrations.storage import StorageUnavailable
from resolvers import contracts, files

NO_STORE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status, headers={**NO_STORE, **headers})


async def download(request: Request) -> Response:
    state = request.app.state
    token = request.path_params["token"]
    try:
        found = await contracts.open_download(
            state.settings.for_resolvers(), state.sessionmaker, state.services.storage, token
        )
    except contracts.DownloadRefused:
        return _error(403, "FORBIDDEN", "This download link is invalid or has expired; ask for a new one.")
    except contracts.DownloadGone:
        return _error(404, "NOT_FOUND", "This contract no longer exists.")
    except StorageUnavailable:
        retry = str(state.settings.storage.retry_after_seconds)
        return _error(
            503, "STORAGE_UNAVAILABLE", "File storage is unavailable; retry shortly.", **{"Retry-After": retry}
        )
    headers = {
        **NO_STORE,
        "Content-Disposition": files.content_disposition(found.filename),
        "Content-Length": str(found.size),
    }
    return StreamingResponse(found.chunks, media_type=found.content_type, headers=headers)
