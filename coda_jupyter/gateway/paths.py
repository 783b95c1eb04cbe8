"""Which request paths the gateway forwards: model API calls only, checked on the raw request target.

The gateway signs what it forwards with the owner's workspace token, so a
path it passes on unchecked would turn the local key into a key to the whole
workspace REST API (``/anthropic/../../api/2.0/token/create`` mints tokens).
Checks therefore run on the path exactly as the client sent it, before any
percent-decoding, and that raw path is what goes upstream: every route lists
the API paths its agents call, segments may hold only characters that need
no encoding, and anything else (dot segments, ``%``-escapes of any kind,
``;``, ``\\``, empty segments, absolute URLs) never leaves this machine.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

# One path segment that needs no encoding and cannot be a dot segment: model
# names such as ``databricks-claude-sonnet-4-6`` or ``gemini-2.5-pro``.
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_GEMINI_VERBS = r"(?:generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents)"

# Path patterns after the route prefix, per API family. Sources: what each
# agent calls on its base URL — Claude Code: ``/v1/messages`` and
# ``/v1/messages/count_tokens`` (``?beta=true``), ``/v1/models``; Codex and
# OpenCode's OpenAI provider: ``/responses``, ``/models``; OpenCode and
# Hermes (OpenAI-compatible): ``/chat/completions``, ``/models`` (Hermes
# probes the model list); Gemini CLI (``@google/genai``):
# ``/{version}/models/{model}:{verb}`` and the model list.
ANTHROPIC_PATHS = (
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/models",
    rf"/v1/models/{_NAME}",
)
OPENAI_PATHS = (
    "/chat/completions",
    "/responses",
    "/models",
    rf"/models/{_NAME}",
)
GEMINI_PATHS = (
    r"/v1(?:beta|alpha)?/models",
    rf"/v1(?:beta|alpha)?/models/{_NAME}",
    rf"/v1(?:beta|alpha)?/models/{_NAME}:{_GEMINI_VERBS}",
)

# RFC 3986 query characters, ``%`` escapes included (the query cannot change
# which path is called); no ``#``, no controls, no spaces.
_QUERY = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def compile_paths(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


def refusal(allowed: re.Pattern[str], raw_rest: str, raw_query: str) -> str | None:
    """Why this raw path and query must not go upstream, or None when they may, verbatim."""
    if not allowed.fullmatch(raw_rest):
        return f"the gateway does not forward {raw_rest or '/'!r} on this route"
    if not _QUERY.fullmatch(raw_query) or _ESCAPE.search(raw_query):
        return "the query string holds characters the gateway does not forward"
    return None


def forwarded_query(raw_query: str, drop: str) -> str:
    """The raw query minus every ``drop`` parameter (however its name is encoded), with its ``?``."""
    kept = [part for part in raw_query.split("&") if part and unquote_plus(part.partition("=")[0]) != drop]
    return "?" + "&".join(kept) if kept else ""
