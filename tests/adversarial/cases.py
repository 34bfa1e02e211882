"""The adversarial catalogue: hostile and malformed inputs, each with what must hold when it is triaged.

Every case holds, in every output format: no crash (exit 0, or exit 2 with one ``Error:`` line and no traceback),
a run under the hang guard, no planted secret anywhere in the output, no canary from outside the repository,
and no live mention, link, markup or invisible character from the input (tests/adversarial/checks.py).
A case may ask more: ``expect`` (``report`` = exit 0, ``error`` = exit 2), ``location`` (the file the
report must still point at, a best-effort report rather than a refusal) and ``in_code`` (strings from the
event that the GitHub issue may show only inside code spans or fences).

Fake secrets are built by concatenation so that no scanner mistakes this file for a leak.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.adversarial.conftest import Target
from tests.linkers.history import shop_traceback

Expect = Literal["report", "error", "either"]


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    make: Callable[[Target], bytes]
    secrets: tuple[str, ...] = ()
    expect: Expect = "either"
    location: str | None = None  # the repository file the report must still name
    # Values the input renders on purpose and that must reach the report literally (proves it was not dropped).
    kept: tuple[str, ...] = field(default=())
    # Strings the GitHub issue body may hold only inside code (every field of a Sentry event is).
    in_code: tuple[str, ...] = field(default=())


CASES: list[Case] = []


def case(
    id: str,
    category: str,
    expect: Expect = "either",
    location: str | None = None,
    secrets: tuple[str, ...] = (),
    kept: tuple[str, ...] = (),
    in_code: tuple[str, ...] = (),
) -> Callable[[Callable[[Target], str | bytes]], Callable[[Target], str | bytes]]:
    def register(make: Callable[[Target], str | bytes]) -> Callable[[Target], str | bytes]:
        def as_bytes(target: Target) -> bytes:
            made = make(target)
            return made.encode("utf-8", "surrogatepass") if isinstance(made, str) else made

        CASES.append(Case(id, category, as_bytes, secrets, expect, location, kept, in_code))
        return make

    return register


def shop(target: Target, message: str = "division by zero", prefix: str = "/srv/app/") -> str:
    return shop_traceback(target.repo, prefix=prefix, message=message)


def pricing_line(target: Target) -> int:
    return target.line_of("shop/pricing.py", "return total / discount")


PRICING_CODE = "return total / discount  # discount is a percentage now"  # the failing line at the release


def frame(path: str, line: int | str, function: str = "apply_discount", code: str = PRICING_CODE) -> str:
    return f'  File "{path}", line {line}, in {function}\n    {code}\n'


def python_trace(*frames: str, error: str = "ZeroDivisionError: division by zero") -> str:
    return "Traceback (most recent call last):\n" + "".join(frames) + error + "\n"


def event(target: Target, **extra: Any) -> dict[str, Any]:
    """A Sentry event as the Python SDK sends it, for the shop's crash; ``extra`` adds or replaces sections."""
    line = pricing_line(target)
    data: dict[str, Any] = {
        "event_id": "9f1c0e5d2b7a4c3e8f6a1b2c3d4e5f60",
        "platform": "python",
        "timestamp": "2024-04-12T09:00:00Z",
        "exception": {
            "values": [
                {
                    "type": "ZeroDivisionError",
                    "value": "division by zero",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "shop/pricing.py",
                                "abs_path": "/srv/app/shop/pricing.py",
                                "function": "apply_discount",
                                "lineno": line,
                                "context_line": "    return total / discount",
                                "in_app": True,
                                "vars": {"total": "100", "discount": "0"},
                            }
                        ]
                    },
                }
            ]
        },
    }
    data.update(extra)
    return data


def js(value: Any) -> str:
    return json.dumps(value)


def with_frames(target: Target, frames: Any, **exception: Any) -> str:
    data = event(target)
    data["exception"]["values"][0]["stacktrace"]["frames"] = frames
    data["exception"]["values"][0].update(exception)
    return js(data)


# --------------------------------------------------------------------------------------------------------------
# Malformed text input
# --------------------------------------------------------------------------------------------------------------

M = "malformed"


@case("empty", M, expect="error")
def _(t: Target) -> str:
    return ""


@case("whitespace-only", M, expect="error")
def _(t: Target) -> str:
    return " \n\t\r\n   \n"


@case("binary-random", M, expect="error")
def _(t: Target) -> bytes:
    return bytes((i * 197 + 13) % 256 for i in range(64 * 1024))


@case("binary-elf-header", M, expect="error")
def _(t: Target) -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 4096 + b"Traceback"


@case("invalid-utf8-in-trace", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> bytes:
    return shop(t, "bad \udcff bytes").encode("utf-8", "surrogateescape").replace(b"bad ", b"bad \xff\xfe\xc3(")


@case("utf16-with-bom", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> bytes:
    return shop(t).encode("utf-16")


@case("utf8-bom", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> bytes:
    return b"\xef\xbb\xbf" + shop(t).encode()


@case("truncated-mid-frame", M, location="shop/cart.py")
def _(t: Target) -> str:
    text = shop(t)
    return text[: text.index("shop/pricing.py") + 5]


@case("truncated-after-header", M, expect="error")
def _(t: Target) -> str:
    return "Traceback (most recent call last):\n"


@case("no-exception-line", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return shop(t).rsplit("ZeroDivisionError", 1)[0]


@case("exception-line-only", M)
def _(t: Target) -> str:
    return "ZeroDivisionError: division by zero\n"


@case("huge-file-over-input-limit", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    # 9 MiB: the trace first, then log noise past the 8 MiB input limit.
    return shop(t) + ("INFO request served in 3 ms\n" * 340_000)


@case("five-mb-single-line", M, expect="error")
def _(t: Target) -> str:
    return "x" * (5 * 1024 * 1024)


@case("five-mb-line-inside-trace", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return shop(t, "A" * (5 * 1024 * 1024))


@case("five-mb-line-before-trace", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return "DEBUG " + "y" * (5 * 1024 * 1024) + "\n" + shop(t)


@case("ten-thousand-frames", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    deep = frame("/srv/app/shop/cart.py", t.line_of("shop/cart.py", "return apply_discount("), "total", "x") * 10_000
    return python_trace(deep, frame("/srv/app/shop/pricing.py", pricing_line(t)))


@case("recursion-error-repeated", M, expect="report", location="shop/cart.py")
def _(t: Target) -> str:
    line = frame("/srv/app/shop/cart.py", t.line_of("shop/cart.py", "return apply_discount("), "total", "x")
    return python_trace(
        line * 3, "  [Previous line repeated 996 more times]\n", error="RecursionError: maximum recursion depth"
    )


@case("fifty-chained-exceptions", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    link = "\nDuring handling of the above exception, another exception occurred:\n\n"
    return link.join(shop(t, f"failure {i}").rstrip("\n") for i in range(50)) + "\n"


@case("eighty-chained-causes", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    link = "\nThe above exception was the direct cause of the following exception:\n\n"
    return link.join(shop(t, f"cause {i}").rstrip("\n") for i in range(80)) + "\n"


@case("exception-group-nested", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    line = pricing_line(t)
    return (
        "  + Exception Group Traceback (most recent call last):\n"
        '  |   File "/srv/app/app.py", line 3, in <module>\n'
        "  |     main()\n"
        "  | ExceptionGroup: many (2 sub-exceptions)\n"
        "  +-+---------------- 1 ----------------\n"
        "    | Exception Group Traceback (most recent call last):\n"
        "    | ExceptionGroup: inner (1 sub-exception)\n"
        "    +-+---------------- 1 ----------------\n"
        "      | Traceback (most recent call last):\n"
        f'      |   File "/srv/app/shop/pricing.py", line {line}, in apply_discount\n'
        "      |     return total / discount\n"
        "      | ZeroDivisionError: division by zero\n"
        "      +------------------------------------\n"
        "    +---------------- 2 ----------------\n"
        "    | ValueError: second\n"
        "    +------------------------------------\n"
    )


@case("exception-group-unterminated", M)
def _(t: Target) -> str:
    return "  + Exception Group Traceback (most recent call last):\n  +-+---- 1 ----\n    | Traceback\n" * 200


@case("syntax-error-caret", M, expect="report", location="shop/cart.py")
def _(t: Target) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/app.py", line 1, in <module>\n    import shop.cart\n'
        '  File "/srv/app/shop/cart.py", line 4\n'
        "    class Cart(:\n"
        "               ^\n"
        "SyntaxError: invalid syntax\n"
    )


@case("carets-everywhere", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    line = pricing_line(t)
    return python_trace(
        f'  File "/srv/app/shop/pricing.py", line {line}, in apply_discount\n'
        "    return total / discount\n           ~~~~~~^~~~~~~~~~\n    ^^^^^^^^^^^^\n"
    )


@case("frozen-and-string-frames", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return python_trace(
        frame("<frozen importlib._bootstrap>", 1007, "_find_and_load", "x"),
        frame("<frozen runpy>", 198, "_run_module_as_main", "x"),
        frame("<string>", 1, "<module>", "x"),
        frame("<stdin>", 2, "<module>", "x"),
        frame("/srv/app/shop/pricing.py", pricing_line(t)),
    )


@case("only-frozen-frames", M)
def _(t: Target) -> str:
    return python_trace(frame("<frozen importlib._bootstrap>", 1007, "_find_and_load", "x"))


@case("notebook-cell", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return (
        "---------------------------------------------------------------------------\n"
        "ZeroDivisionError                         Traceback (most recent call last)\n"
        "Cell In[3], line 2\n      1 from shop.pricing import apply_discount\n"
        "----> 2 apply_discount(1, 0)\n\n"
        f"File /srv/app/shop/pricing.py:{pricing_line(t)}, in apply_discount(total, discount)\n"
        "ZeroDivisionError: division by zero\n"
    )


@case("ipykernel-temp-file", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return python_trace(
        frame("/tmp/ipykernel_4242/3370157245.py", 2, "<module>", "apply_discount(1, 0)"),
        frame("/srv/app/shop/pricing.py", pricing_line(t)),
    )


@case("windows-paths", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return shop(t, prefix="C:\\srv\\app\\").replace("shop/", "shop\\")


@case("windows-unc-path", M)
def _(t: Target) -> str:
    return shop(t, prefix="\\\\fileserver\\share\\app\\").replace("shop/", "shop\\")


@case("missing-line-numbers", M, expect="report")
def _(t: Target) -> str:
    return python_trace('  File "/srv/app/shop/pricing.py", in apply_discount\n    return total / discount\n')


@case("zero-line-number", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return python_trace(frame("/srv/app/shop/pricing.py", 0))


@case("line-past-end-of-file", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return python_trace(frame("/srv/app/shop/pricing.py", 99_999))


@case("line-number-enormous", M, expect="report")
def _(t: Target) -> str:
    return python_trace(frame("/srv/app/shop/pricing.py", "9" * 400))


@case("nul-bytes", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return shop(t, "zero\0byte").replace("Traceback", "Trace\0back", 0)


@case("ansi-escapes", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return "\x1b[31m" + shop(t, "\x1b[1mred\x1b[0m \x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\") + "\x1b[0m"


@case("carriage-returns", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return shop(t).replace("\n", "\r\n")


@case("lone-carriage-returns", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return shop(t).replace("\n", "\r")


@case("control-characters", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return shop(t, "".join(chr(c) for c in range(1, 32) if c not in (10, 13)) + "\x7f\x85")


@case("log-noise-around-trace", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    noise = "".join(f"2024-04-12 09:00:{i:02d} INFO GET /health 200\n" for i in range(60))
    return noise + shop(t) + noise


@case("log-prefix-on-every-line", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return "".join(f"web-1  | {line}\n" for line in shop(t).splitlines())


@case("two-different-traces", M, expect="report")
def _(t: Target) -> str:
    return shop(t) + "\n" + python_trace(frame("/srv/app/app.py", 3, "<module>", "x"), error="KeyError: 'x'")


@case("json-log-line-with-trace", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return js({"level": "error", "msg": "boom", "exc_info": shop(t)}) + "\n"


@case("not-json-but-brace", M, expect="error")
def _(t: Target) -> str:
    return "{ this is not json, and no trace either\n" * 10


@case("unicode-paths-and-names", M)
def _(t: Target) -> str:
    return python_trace(frame("/srv/app/shöp/prícing_😀.py", 3, "applý_dïscount", "ret"), error="Ошибка: деление")


@case("very-long-function-name", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return python_trace(frame("/srv/app/shop/pricing.py", pricing_line(t), "f" * 20_000))


@case("very-long-exception-type", M)
def _(t: Target) -> str:
    return python_trace(frame("/srv/app/shop/pricing.py", pricing_line(t)), error="E" * 50_000 + ": x")


@case("message-of-many-lines", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return shop(t, "\n".join(f"line {i}" for i in range(5_000)))


@case("keyboard-interrupt-no-message", M, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return python_trace(frame("/srv/app/shop/pricing.py", pricing_line(t)), error="KeyboardInterrupt")


@case("site-packages-only", M, expect="report")
def _(t: Target) -> str:
    return python_trace(frame("/usr/lib/python3.11/site-packages/requests/api.py", 59, "request", "x"))


# --------------------------------------------------------------------------------------------------------------
# Sentry JSON
# --------------------------------------------------------------------------------------------------------------

S = "sentry-json"


@case("sentry-valid", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return js(event(t))


@case("sentry-all-nulls", S)
def _(t: Target) -> str:
    return js({"exception": None, "entries": None, "threads": None, "release": None, "tags": None})


@case("sentry-values-null", S, expect="error")
def _(t: Target) -> str:
    return js({"exception": {"values": None}})


@case("sentry-values-empty", S, expect="error")
def _(t: Target) -> str:
    return js({"exception": {"values": []}})


@case("sentry-values-of-nulls", S, expect="error")
def _(t: Target) -> str:
    return js({"exception": {"values": [None, None]}})


@case("sentry-frames-null", S, expect="report")
def _(t: Target) -> str:
    return with_frames(t, None)


@case("sentry-frames-wrong-types", S, expect="report")
def _(t: Target) -> str:
    return with_frames(t, [None, 1, "x", [], True, {"lineno": "x"}])


@case("sentry-fields-wrong-types", S, expect="report")
def _(t: Target) -> str:
    return with_frames(
        t,
        [{"filename": 42, "abs_path": ["a"], "function": {"x": 1}, "lineno": "12x", "in_app": "yes", "vars": "v"}],
        type=["ZeroDivisionError"],
        value={"nested": "message"},
    )


@case("sentry-lineno-as-string", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    data = event(t)
    frame0 = data["exception"]["values"][0]["stacktrace"]["frames"][0]
    frame0["lineno"] = str(frame0["lineno"])
    return js(data)


@case("sentry-lineno-negative-and-float", S, expect="report")
def _(t: Target) -> str:
    return with_frames(t, [{"filename": "shop/pricing.py", "lineno": -5}, {"filename": "shop/cart.py", "lineno": 2.5}])


@case("sentry-lineno-huge-integer", S, expect="report")
def _(t: Target) -> str:
    return with_frames(t, [{"filename": "shop/pricing.py", "lineno": 10**300}])


@case("sentry-number-too-long-for-python", S)
def _(t: Target) -> str:
    return js(event(t)).replace('"timestamp"', '"big": ' + "9" * 5000 + ', "timestamp"')


@case("sentry-nan-infinity", S, expect="report")
def _(t: Target) -> str:
    return with_frames(t, [{"filename": "shop/pricing.py", "lineno": float("nan")}], timestamp=float("inf"))


@case("sentry-deep-nesting-list", S, expect="error")
def _(t: Target) -> str:
    return "[" * 100_000 + "]" * 100_000


@case("sentry-deep-nesting-in-vars", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    deep: Any = "bottom"
    for _ in range(5_000):
        deep = {"d": deep}
    data = event(t)
    data["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] = {"cart": "x"}
    text = js(data)
    # json.dumps cannot write 5,000 levels; splice them in as raw text.
    return text.replace('{"cart": "x"}', '{"cart": ' + '{"d": ' * 5_000 + '"bottom"' + "}" * 5_000 + "}")


@case("sentry-deep-nesting-unclosed", S)
def _(t: Target) -> str:
    return '{"exception": ' + '{"values": [' * 50_000


@case("sentry-hundred-thousand-frames", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    data = event(t)
    frames = data["exception"]["values"][0]["stacktrace"]["frames"]
    filler = {"filename": "shop/cart.py", "function": "total", "lineno": 2, "in_app": True}
    data["exception"]["values"][0]["stacktrace"]["frames"] = [filler] * 100_000 + frames
    return js(data)


@case("sentry-huge-frame-fields", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    data = event(t)
    frame0 = data["exception"]["values"][0]["stacktrace"]["frames"][0]
    frame0["context_line"] = "c" * 3_000_000
    frame0["pre_context"] = ["p" * 100_000] * 30
    frame0["function"] = "f" * 1_000_000
    return js(data)


@case("sentry-huge-message", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    data = event(t)
    data["exception"]["values"][0]["value"] = "m" * 6_000_000
    return js(data)


@case("sentry-huge-vars", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    data = event(t)
    data["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] = {f"v{i}": "x" * 10_000 for i in range(500)}
    return js(data)


@case("sentry-many-exceptions", S, expect="report")
def _(t: Target) -> str:
    data = event(t)
    data["exception"]["values"] = data["exception"]["values"] * 5_000
    return js(data)


@case("sentry-rest-shape-wrong-types", S)
def _(t: Target) -> str:
    return js({"entries": [None, 3, {"type": "exception", "data": None}, {"type": "exception", "data": {"values": 5}}]})


@case("sentry-rest-context-malformed", S, expect="report")
def _(t: Target) -> str:
    frames = [{"filename": "shop/pricing.py", "lineNo": pricing_line(t), "context": [[1], "x", None, [None, 5]]}]
    return js(
        {"entries": [{"type": "exception", "data": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}}]}
    )


@case("sentry-threads-only", S, expect="report")
def _(t: Target) -> str:
    frames = [{"filename": "shop/pricing.py", "lineno": pricing_line(t), "in_app": True}]
    return js({"threads": {"values": [None, {"crashed": True, "name": None, "stacktrace": {"frames": frames}}]}})


@case("sentry-top-level-list", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return js([1, None, event(t)])


@case("sentry-top-level-scalar", S, expect="error")
def _(t: Target) -> str:
    return "42"


@case("sentry-truncated", S)
def _(t: Target) -> str:
    return js(event(t))[:300]


@case("sentry-tags-and-release-odd", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return js(event(t, tags="not-a-list", release={"version": ["x"]}, environment=7, timestamp="yesterday"))


@case("sentry-release-not-a-ref", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return js(event(t, release="--upload-pack=touch /tmp/pwned"))


@case("sentry-release-option-injection", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return js(event(t, release="-c core.pager=touch${IFS}/tmp/pwned2 HEAD"))


@case("sentry-duplicate-keys", S, expect="report")
def _(t: Target) -> str:
    return '{"exception": {"values": []}, "exception": ' + js(event(t)["exception"]) + "}"


@case("sentry-unknown-platform", S, expect="report", location="shop/pricing.py")
def _(t: Target) -> str:
    return js(event(t, platform="cobol"))


@case("sentry-frames-mapping-not-list", S, expect="report")
def _(t: Target) -> str:
    return with_frames(t, {"0": {"filename": "shop/pricing.py"}})


# --------------------------------------------------------------------------------------------------------------
# Other languages, well-formed and malformed
# --------------------------------------------------------------------------------------------------------------

L = "languages"


@case("js-node", L, expect="report", location="web/src/cart.js")
def _(t: Target) -> str:
    line = t.line_of("web/src/cart.js", "cart.count")
    return (
        "TypeError: Cannot read properties of undefined (reading 'count')\n"
        f"    at checkout (/srv/web/src/cart.js:{line}:31)\n"
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
        "    at async Promise.all (index 0)\n"
    )


@case("js-browser-webpack", L, expect="report", location="web/src/cart.js")
def _(t: Target) -> str:
    line = t.line_of("web/src/cart.js", "cart.count")
    return (
        f"TypeError: x is undefined\ncheckout@webpack:///./src/cart.js?abc:{line}:10\n@https://cdn.example/app.js:1:1\n"
    )


@case("js-anonymous-and-eval", L)
def _(t: Target) -> str:
    return (
        "Error: boom\n    at <anonymous>\n    at eval (eval at run (/srv/web/src/cart.js:2:3), <anonymous>:1:1)\n"
        "    at new Promise (<anonymous>)\n    at Array.map (native)\n"
    )


@case("js-missing-columns-and-lines", L)
def _(t: Target) -> str:
    return "Error: boom\n    at checkout (/srv/web/src/cart.js)\n    at total (/srv/web/src/cart.js:)\n    at (:::)\n"


@case("js-file-url-to-etc-passwd", L)
def _(t: Target) -> str:
    return "Error: boom\n    at read (file:///etc/passwd:1:1)\n    at go (file:///../../etc/passwd:1:1)\n"


@case("js-truncated", L)
def _(t: Target) -> str:
    return "TypeError: Cannot read prop\n    at checkout (/srv/web/src/ca"


@case("java-caused-by", L, expect="report", location="src/main/java/com/acme/Cart.java")
def _(t: Target) -> str:
    line = t.line_of("src/main/java/com/acme/Cart.java", "items.length")
    return (
        "java.lang.IllegalStateException: checkout failed\n"
        "\tat com.acme.Shop.checkout(Shop.java:20)\n"
        "Caused by: java.lang.ArithmeticException: / by zero\n"
        f"\tat com.acme.Cart.total(Cart.java:{line})\n"
        "\tat com.acme.Shop.checkout(Shop.java:18)\n"
        "\t... 3 more\n"
    )


@case("java-suppressed-native-unknown", L)
def _(t: Target) -> str:
    return (
        "java.lang.RuntimeException: x\n\tat sun.misc.Unsafe.park(Native Method)\n"
        "\tat com.acme.Cart.lambda$total$0(Unknown Source)\n"
        "\tSuppressed: java.io.IOException: close\n\t\tat com.acme.Io.close(Io.java:1)\n"
        "\tat com.acme.Cart.$$Lambda$14/0x0000000800c0b448.apply(Unknown Source)\n"
    )


@case("java-caused-by-loop", L)
def _(t: Target) -> str:
    return "java.lang.Error: a\n" + "Caused by: java.lang.Error: b\n\tat a.B.c(B.java:1)\n\t... 1 more\n" * 500


@case("java-more-without-frames", L)
def _(t: Target) -> str:
    return "java.lang.NullPointerException\n\t... 42 more\n\t... 42 more\n"


@case("java-module-prefixes", L, expect="report", location="src/main/java/com/acme/Cart.java")
def _(t: Target) -> str:
    line = t.line_of("src/main/java/com/acme/Cart.java", "items.length")
    return (
        "java.lang.ArithmeticException: / by zero\n"
        f"\tat app//com.acme.Cart.total(Cart.java:{line})\n"
        "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
    )


@case("go-panic", L, expect="report", location="cmd/server/main.go")
def _(t: Target) -> str:
    line = t.line_of("cmd/server/main.go", "sum / len(items)")
    return (
        "panic: runtime error: integer divide by zero\n\ngoroutine 1 [running]:\n"
        f"main.total(...)\n\t/build/cmd/server/main.go:{line}\nmain.main()\n"
        "\t/build/cmd/server/main.go:12 +0x1d\nexit status 2\n"
    )


@case("go-many-goroutines", L, expect="report", location="cmd/server/main.go")
def _(t: Target) -> str:
    line = t.line_of("cmd/server/main.go", "sum / len(items)")
    idle = "".join(
        f"goroutine {i} [chan receive]:\nmain.worker()\n\t/build/cmd/server/main.go:3 +0x2\n"
        f"created by main.main in goroutine 1\n\t/build/cmd/server/main.go:12 +0x3\n\n"
        for i in range(2, 3_000)
    )
    return (
        "panic: runtime error: integer divide by zero\n\ngoroutine 1 [running]:\n"
        f"main.total(...)\n\t/build/cmd/server/main.go:{line} +0x1d\n\n" + idle
    )


@case("go-malformed-offsets", L)
def _(t: Target) -> str:
    return "panic: x\n\ngoroutine 1 [running]:\nmain.f(0x, ...)\n\tmain.go +0xzz\n\t:0\n\t/a.go:-1 +0x1\n"


@case("go-fatal-error-no-goroutine", L)
def _(t: Target) -> str:
    return "fatal error: all goroutines are asleep - deadlock!\n"


@case("ruby-error", L, expect="report", location="app/models/cart.rb")
def _(t: Target) -> str:
    line = t.line_of("app/models/cart.rb", "items.sum")
    return (
        f"/srv/app/app/models/cart.rb:{line}:in `/': divided by 0 (ZeroDivisionError)\n"
        f"\tfrom /srv/app/app/models/cart.rb:{line}:in `total'\n"
        "\tfrom bin/rails:4:in `<main>'\n"
    )


@case("ruby-34-quotes-and-blocks", L, expect="report", location="app/models/cart.rb")
def _(t: Target) -> str:
    line = t.line_of("app/models/cart.rb", "items.sum")
    return (
        f"/srv/app/app/models/cart.rb:{line}:in 'Integer#/': divided by 0 (ZeroDivisionError)\n"
        f"\tfrom /srv/app/app/models/cart.rb:{line}:in 'block in Cart#total'\n"
        "\tfrom <internal:kernel>:187:in 'loop'\n"
    )


@case("ruby-malformed", L)
def _(t: Target) -> str:
    return ":in `': (\n\tfrom :0:in `'\n\tfrom ::in\n/a.rb:x:in `f'\n"


@case("mixed-languages", L, expect="report")
def _(t: Target) -> str:
    return (
        shop(t)
        + "java.lang.Error: x\n\tat com.acme.Cart.total(Cart.java:7)\n"
        + "panic: y\n\ngoroutine 1 [running]:\nmain.f()\n\t/build/cmd/server/main.go:8 +0x1\n"
    )


# --------------------------------------------------------------------------------------------------------------
# Paths aimed outside the repository
# --------------------------------------------------------------------------------------------------------------

P = "paths"


def _aim(path: str, location: str | None = None) -> Callable[[Target], str]:
    def make(t: Target) -> str:
        return python_trace(frame(path.format(outside=t.outside, home=t.home, repo=t.repo), 1, "steal", "x"))

    return make


for _id, _path in {
    "dotdot-to-canary": "../outside/secret_canary.py",
    "deep-dotdot-to-etc-passwd": "../../../../../../../../etc/passwd",
    "repo-then-dotdot": "shop/../../outside/secret_canary.py",
    "absolute-canary": "{outside}",
    "absolute-inside-repo-then-out": "{repo}/../outside/secret_canary.py",
    "proc-self-environ": "/proc/self/environ",
    "proc-self-cwd": "/proc/self/cwd/../outside/secret_canary.py",
    "proc-self-root-etc": "/proc/self/root/etc/passwd",
    "etc-passwd": "/etc/passwd",
    "etc-shadow": "/etc/shadow",
    "home-tilde-ssh-key": "~/.ssh/id_rsa",
    "home-absolute-ssh-key": "{home}/.ssh/id_rsa",
    "dev-zero": "/dev/zero",
    "dev-stdin": "/dev/stdin",
    "dev-urandom": "/dev/urandom",
    "git-config": ".git/config",
    "git-dir-traversal": ".git/../../outside/secret_canary.py",
    "windows-dotdot": "..\\..\\outside\\secret_canary.py",
    "url-encoded-dotdot": "%2e%2e/%2e%2e/outside/secret_canary.py",
    "pathspec-magic": ":(top,glob)**/secret_canary.py",
    "glob-characters": "shop/*",
    "symlink-out-of-repo": "/srv/app/shop/outside_link.py",
    "symlink-to-etc-passwd": "/srv/app/shop/passwd_link.py",
    "very-long-path": "/srv/" + "a" * 100_000 + "/x.py",
    "option-looking-path": "--output=/tmp/pwned.py",
}.items():
    case(f"path-{_id}", P)(_aim(_path))


@case("path-nul-in-sentry-filename", P, expect="report")
def _(t: Target) -> str:
    return with_frames(t, [{"filename": f"shop/pricing.py\0{t.outside}", "abs_path": f"{t.outside}\0", "lineno": 1}])


@case("path-newline-in-sentry-filename", P, expect="report")
def _(t: Target) -> str:
    frames = [{"filename": f"shop/pricing.py\n{t.outside}", "abs_path": f"x\n../../{t.outside}", "lineno": 1}]
    return with_frames(t, frames)


@case("path-symlink-in-sentry", P, expect="report")
def _(t: Target) -> str:
    frames = [
        {"filename": "shop/outside_link.py", "lineno": 1, "in_app": True},
        {"filename": "shop/passwd_link.py", "lineno": 1, "in_app": True},
    ]
    return with_frames(t, frames)


@case("path-outside-in-sentry-abs-path", P, expect="report")
def _(t: Target) -> str:
    return with_frames(t, [{"filename": str(t.outside), "abs_path": str(t.outside), "lineno": 1, "in_app": True}])


@case("path-js-to-home", P)
def _(t: Target) -> str:
    return f"Error: x\n    at steal ({t.home}/.ssh/id_rsa:1:1)\n    at go (/proc/self/environ:1:1)\n"


@case("path-java-to-outside", P)
def _(t: Target) -> str:
    return "java.lang.Error: x\n\tat ....outside.secret_canary(secret_canary.py:1)\n\tat etc.passwd(passwd:1)\n"


@case("path-go-to-outside", P)
def _(t: Target) -> str:
    return f"panic: x\n\ngoroutine 1 [running]:\nmain.f()\n\t{t.outside}:1 +0x1\nmain.g()\n\t/etc/passwd:1 +0x1\n"


@case("path-ruby-to-home", P)
def _(t: Target) -> str:
    return f"{t.home}/.ssh/id_rsa:1:in `f': x (RuntimeError)\n\tfrom ../outside/secret_canary.py:1:in `g'\n"
