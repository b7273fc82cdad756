"""GraphQL enums: the database's own enum classes (db/enums.py), registered with strawberry."""

from enum import StrEnum

import strawberry

from db.enums import ChatSessionStatus, MessageSender, RequestStatus, Role
from resolvers.errors import ErrorCode

strawberry.enum(Role, description="What a user may do (see API.md, 'Who may do what').")
strawberry.enum(RequestStatus, description="Where a support request is in its lifecycle.")
strawberry.enum(ChatSessionStatus, description="Whether a chat takes new messages.")
strawberry.enum(MessageSender, description="Who wrote a chat message.")
strawberry.enum(ErrorCode, description="What went wrong, for clients to branch on.")


@strawberry.enum(description="Sort direction.")
class OrderDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


__all__ = ["ChatSessionStatus", "ErrorCode", "MessageSender", "OrderDirection", "RequestStatus", "Role"]
