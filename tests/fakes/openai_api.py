"""An OpenAI-compatible chat-completions endpoint on 127.0.0.1, replying from a script.

Each request takes the next step of the script: a tool call, a final answer (an object, serialised, or raw
text such as malformed JSON), an HTTP error, or a delay. Usage is counted as the API does, approximately:
about four characters per token.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeServer, Request, Response


@dataclass
class Step:
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def tool(name: str, **arguments: Any) -> Step:
    return Step(tool_calls=[(name, arguments)])


def answer(value: dict[str, Any] | str) -> Step:
    return Step(content=value if isinstance(value, str) else json.dumps(value))


def error(status: int, **headers: str) -> Step:
    return Step(status=status, headers=headers)


def slow(seconds: float, then: Step) -> Step:
    return Step(then.tool_calls, then.content, then.status, then.headers, seconds)


class FakeOpenAI(FakeServer):
    def __init__(self, script: list[Step] | None = None) -> None:
        super().__init__()
        self.script = list(script or [])
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def completions(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    models = ("gpt-4o-mini",)

    def handle(self, request: Request) -> Response:
        if request.path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.models]
            return Response(200, {"object": "list", "data": data})
        if request.path != "/v1/chat/completions":
            return Response(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        if not self.script:
            return Response(500, {"error": {"message": "script exhausted", "type": "server_error"}})
        step = self.script.pop(0)
        if step.delay:
            time.sleep(step.delay)
        if step.status != 200:
            return Response(
                step.status, {"error": {"message": f"scripted {step.status}", "type": "error"}}, step.headers
            )
        message: dict[str, Any] = {"role": "assistant", "content": step.content}
        if step.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": n, "arguments": json.dumps(a)},
                }
                for n, a in step.tool_calls
            ]
        prompt = len(json.dumps(request.body.get("messages", []))) // 4
        completion = len(json.dumps(message)) // 4
        return Response(
            200,
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if step.tool_calls else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
        )
