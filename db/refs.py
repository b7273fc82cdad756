"""How stored rows refer to an entity: base64url of "<Type>:<pk>", without padding.

Audit records (`entity_id`, `details`), outbox payloads and GDPR exports keep their references in this spelling.
It is the spelling of the API's global IDs on purpose (schema/ids.py builds those with `entity_ref`): a reference
read from an audit record or an export can be passed to `node(id:)` as it is. Changing it changes stored data.
"""

from __future__ import annotations

import base64


def entity_ref(type_name: str, pk: int | str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")
