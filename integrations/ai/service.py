"""The AI service: summarise a chat conversation, suggest a reply to a support request.

One small interface (`AIService`) with one implementation on OpenAI's chat-completions API (`openai.AsyncOpenAI`),
so any OpenAI-compatible server works too (`AI_BASE_URL`). Built once in the app's lifespan; None when AI is not
configured.

What leaves the system: the prompt built here from the texts the caller hands in (the chat's title and messages,
or the request and the customer's recent requests), trimmed to `AI_PROMPT_BUDGET_CHARS` (newest first), with
every text masked (`masking.Masker`: emails, phone numbers, the given names) unless `AI_SEND_PERSONAL_DATA`
is true. Nothing else: no IDs, no author names, no customer record.

Failures are two exceptions, never the provider's own text: `AIAuthFailed` (401/403), `AIUnavailable`
(429, 5xx, time-outs, connection errors, any other refusal and malformed answers; `retry_after` seconds from the
provider's Retry-After when it sends one, else 10). A 429, 5xx or connection error is retried `AI_MAX_RETRIES`
times within the call, but only when the wait is short (the provider's Retry-After, else 0.5 s doubling with
jitter, at most 2 s); a longer Retry-After goes straight back to the caller as `retryAfter`, and a time-out is not
retried (the caller has already waited it out). The retries are ours, not the client's, for exactly that
reason. With no service configured the caller answers AI_NOT_CONFIGURED.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import openai

from integrations.ai.masking import Masker, no_mask

log = logging.getLogger("customer_graph.ai")

DEFAULT_RETRY_AFTER = 10  # seconds, when the provider does not say
MAX_RETRY_AFTER = 3600
MAX_INLINE_WAIT = 2.0  # longest wait before a retry within one call; longer waits go back to the caller
RETRY_BASE_DELAY = 0.5  # first back-off when the provider gives no Retry-After (then doubled, with jitter)
RETRYABLE_STATUSES = frozenset({408, 409, 429})

SUMMARY_INSTRUCTIONS = (
    "You summarise a customer-support chat for a colleague who has not read it. Write 2-5 short sentences: "
    "what the customer wants, what was done or promised, and what is still open. Texts in square brackets such "
    "as [name], [email] or [phone] stand for data withheld on purpose: keep them as they are, never guess them."
)
REPLY_INSTRUCTIONS = (
    "You draft a reply to a customer's support request, for a support operator to review before sending. "
    "Be polite, concrete and brief (at most 120 words); do not promise what the request does not support. "
    "Texts in square brackets such as [name], [email] or [phone] stand for data withheld on purpose: keep them "
    "as they are, never guess them."
)


class AIError(Exception):
    """An AI call failed; the message is ours and safe to show."""


class AIAuthFailed(AIError):
    pass


class AIUnavailable(AIError):
    """`retry_after`: whole seconds for the caller; `wait`: the provider's own figure, if any; `retryable`: whether
    trying again at once may help (429, 5xx, time-outs; not a 400 or a malformed answer)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: int = DEFAULT_RETRY_AFTER,
        wait: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.wait = wait
        self.retryable = retryable


@dataclass(frozen=True)
class Line:
    """One line of a conversation or history: who ("Customer", "Operator", "Request (PENDING)") and the text."""

    speaker: str
    text: str


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    def usage(self) -> dict[str, int | None]:
        return {
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "totalTokens": self.total_tokens,
        }


def newest_within(lines: Sequence[Line], budget: int) -> list[Line]:
    """The newest lines (`lines` oldest first) whose texts fit in `budget` characters, still oldest first.
    The newest line is always kept, cut to the budget when it alone is longer."""
    kept: list[Line] = []
    used = 0
    for line in reversed(lines):
        size = len(line.speaker) + len(line.text) + 3
        if kept and used + size > budget:
            break
        if not kept and size > budget:
            line = Line(line.speaker, line.text[: max(0, budget - len(line.speaker) - 3)])
            size = budget
        kept.append(line)
        used += size
    kept.reverse()
    return kept


class AIService(Protocol):
    """Summaries and suggested replies; see the module docstring. `OpenAIService` satisfies it structurally."""

    model: str

    async def summarize(self, *, title: str, messages: Sequence[Line], names: Sequence[str | None]) -> Completion:
        """A short summary of the conversation (texts masked unless configured otherwise)."""
        ...

    async def suggest_reply(self, *, request: Line, history: Sequence[Line], names: Sequence[str | None]) -> Completion:
        """A draft reply to `request`, with the customer's earlier requests as context."""
        ...

    async def close(self) -> None:
        """Release the client's connections (in the app's lifespan shutdown)."""
        ...


class OpenAIService:
    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_seconds: float = 5.0,
        max_retries: int = 1,
        prompt_budget_chars: int = 6000,
        max_output_tokens: int = 400,
        send_personal_data: bool = False,
    ) -> None:
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.prompt_budget_chars = prompt_budget_chars
        self.max_output_tokens = max_output_tokens
        self.send_personal_data = send_personal_data
        # Retries are ours (see `_complete`), so the client makes one attempt per call.
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0)

    async def close(self) -> None:
        await self.client.close()

    def _masker(self, names: Sequence[str | None]) -> Callable[[str], str]:
        return no_mask if self.send_personal_data else Masker(names)

    async def summarize(self, *, title: str, messages: Sequence[Line], names: Sequence[str | None]) -> Completion:
        mask = self._masker(names)
        kept = newest_within(messages, self.prompt_budget_chars)
        omitted = len(messages) - len(kept)
        body = [f"Chat title: {title}", ""]
        if omitted:
            body.append(f"({omitted} earlier messages left out)")
        body += [f"{line.speaker}: {line.text}" for line in kept] or ["(no messages yet)"]
        return await self._complete(SUMMARY_INSTRUCTIONS, "\n".join(body), mask)

    async def suggest_reply(self, *, request: Line, history: Sequence[Line], names: Sequence[str | None]) -> Completion:
        mask = self._masker(names)
        budget = max(0, self.prompt_budget_chars - len(request.text))
        [current] = newest_within([request], self.prompt_budget_chars)
        kept = newest_within(history, budget) if budget else []
        body = [f"{current.speaker}: {current.text}"]
        if kept:
            body += ["", "The customer's earlier requests, newest first:"]
            body += [f"- {line.speaker}: {line.text}" for line in reversed(kept)]
        return await self._complete(REPLY_INSTRUCTIONS, "\n".join(body), mask)

    async def _complete(self, instructions: str, prompt: str, mask: Callable[[str], str]) -> Completion:
        messages: Any = [
            {"role": "system", "content": mask(instructions)},
            {"role": "user", "content": mask(prompt)},
        ]
        for attempt in range(self.max_retries + 1):
            try:
                return await self._attempt(messages)
            except AIUnavailable as error:
                # Retry here only when the wait is short: a caller waiting on a mutation is better served by
                # AI_UNAVAILABLE with the provider's retryAfter than by a request that hangs for a minute.
                if error.wait is not None:
                    wait = error.wait
                else:
                    wait = RETRY_BASE_DELAY * 2**attempt * (1 + random.random() / 4)
                if attempt == self.max_retries or not error.retryable or wait > MAX_INLINE_WAIT:
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _attempt(self, messages: Any) -> Completion:
        try:
            # The client's time-out is per read; this bounds the whole attempt (a server trickling bytes).
            async with asyncio.timeout(self.timeout_seconds + 1):
                response = await self.client.chat.completions.create(
                    model=self.model, messages=messages, max_tokens=self.max_output_tokens
                )
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            log.warning("AI provider refused our credentials", extra={"status": error.status_code})
            raise AIAuthFailed("The AI provider refused our credentials.") from None
        except openai.APIStatusError as error:
            log.warning("AI provider answered an error", extra={"status": error.status_code})
            wait = _retry_after_seconds(error.response)
            raise AIUnavailable(
                "The AI service is unavailable; try again later.",
                retry_after=_whole_seconds(wait),
                wait=wait,
                retryable=error.status_code in RETRYABLE_STATUSES or error.status_code >= 500,
            ) from None
        except (openai.APITimeoutError, TimeoutError):
            # Not retried: the caller has already waited the whole time-out.
            log.warning("AI provider did not answer in time")
            raise AIUnavailable("The AI service did not answer in time; try again later.") from None
        except openai.APIConnectionError:
            log.warning("AI provider could not be reached")
            raise AIUnavailable("The AI service could not be reached; try again later.", retryable=True) from None
        except (openai.OpenAIError, ValueError, TypeError) as error:  # a body we cannot read
            log.warning("AI provider answered unreadably", extra={"error": type(error).__name__})
            raise AIUnavailable("The AI service gave an unreadable answer; try again later.") from None
        return _completion(response, self.model)


def _completion(response: Any, model: str) -> Completion:
    """The first choice's text and the usage, or AIUnavailable when the answer does not have that shape."""
    try:
        text = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        text = None
    if not isinstance(text, str) or not text.strip():
        log.warning("AI provider answered without text")
        raise AIUnavailable("The AI service gave an unreadable answer; try again later.")
    usage = getattr(response, "usage", None)

    def count(name: str) -> int | None:
        value = getattr(usage, name, None)
        return value if isinstance(value, int) else None

    answered = getattr(response, "model", None)
    return Completion(
        text=text.strip(),
        model=answered if isinstance(answered, str) and answered else model,
        prompt_tokens=count("prompt_tokens"),
        completion_tokens=count("completion_tokens"),
        total_tokens=count("total_tokens"),
    )


def _retry_after_seconds(response: Any) -> float | None:
    """Seconds from the provider's retry-after-ms or Retry-After (seconds or an HTTP date); None when absent."""
    headers = getattr(response, "headers", None) or {}
    seconds: float | None = None
    try:
        if headers.get("retry-after-ms") is not None:
            seconds = float(headers["retry-after-ms"]) / 1000
        elif headers.get("retry-after") is not None:
            value = headers["retry-after"].strip()
            try:
                seconds = float(value)
            except ValueError:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
    except (ValueError, TypeError, OverflowError):
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _whole_seconds(seconds: float | None) -> int:
    if seconds is None:
        return DEFAULT_RETRY_AFTER
    return min(MAX_RETRY_AFTER, max(1, math.ceil(seconds)))


def service_from_settings(settings: Any) -> AIService | None:
    """The OpenAI service from `AISettings`, or None when AI is not configured (AI_ENABLED false, or neither a
    key nor a base URL)."""
    if not settings.enabled or not (settings.api_key or settings.base_url):
        return None
    return OpenAIService(
        # A local OpenAI-compatible server usually wants no key; the client insists on one.
        api_key=settings.api_key or "unused",
        model=settings.model,
        base_url=settings.base_url,
        timeout_seconds=settings.timeout_seconds,
        max_retries=settings.max_retries,
        prompt_budget_chars=settings.prompt_budget_chars,
        max_output_tokens=settings.max_output_tokens,
        send_personal_data=settings.send_personal_data,
    )
