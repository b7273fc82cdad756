"""AI behind one small interface: chat summaries and suggested replies (see service.py)."""

from integrations.ai.service import (
    AIAuthFailed,
    AIError,
    AIService,
    AIUnavailable,
    Completion,
    Line,
    OpenAIService,
    service_from_settings,
)

__all__ = [
    "AIAuthFailed",
    "AIError",
    "AIService",
    "AIUnavailable",
    "Completion",
    "Line",
    "OpenAIService",
    "service_from_settings",
]
