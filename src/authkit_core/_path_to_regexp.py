"""path-to-regexp 6.3.0's ``parse`` and ``tokensToRegexp`` (default options), ported: a pattern such as
``/blog/:path*`` becomes the JavaScript regular expression source that authkit-nextjs 4.3 matches paths with.

Only the source is kept (authkit-nextjs does the same), in JavaScript's syntax: :mod:`authkit_core._js_regex`
turns it into Python's. :mod:`authkit_core.paths` is the public face (the rule, the URL step, matching).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_DELIMITER = "/#?"
_PREFIXES = "./"


class _PatternError(ValueError):
    """What path-to-regexp (or JavaScript's RegExp) throws, or what Python cannot reproduce."""


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: Literal["MODIFIER", "ESCAPED_CHAR", "OPEN", "CLOSE", "NAME", "PATTERN", "CHAR", "END"]
    index: int
    value: str | None


@dataclass(frozen=True, slots=True)
class _Key:
    name: str | int
    prefix: str
    suffix: str
    pattern: str
    modifier: str


def _is_name_char(char: str) -> bool:
    return char == "_" or ("0" <= char <= "9") or ("A" <= char <= "Z") or ("a" <= char <= "z")


def _lex(text: str) -> list[_Lexeme]:
    tokens: list[_Lexeme] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char in "*+?":
            tokens.append(_Lexeme("MODIFIER", i, char))
            i += 1
        elif char == "\\":
            tokens.append(_Lexeme("ESCAPED_CHAR", i, text[i + 1] if i + 1 < n else None))
            i += 2
        elif char == "{":
            tokens.append(_Lexeme("OPEN", i, char))
            i += 1
        elif char == "}":
            tokens.append(_Lexeme("CLOSE", i, char))
            i += 1
        elif char == ":":
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            if j == i + 1:
                raise _PatternError(f"Missing parameter name at {i}")
            tokens.append(_Lexeme("NAME", i, text[i + 1 : j]))
            i = j
        elif char == "(":
            count = 1
            pattern = ""
            j = i + 1
            if j < n and text[j] == "?":
                raise _PatternError(f'Pattern cannot start with "?" at {j}')
            while j < n:
                if text[j] == "\\":
                    pattern += text[j : j + 2]
                    j += 2
                    continue
                if text[j] == ")":
                    count -= 1
                    if count == 0:
                        j += 1
                        break
                elif text[j] == "(":
                    count += 1
                    if j + 1 >= n or text[j + 1] != "?":
                        raise _PatternError(f"Capturing groups are not allowed at {j}")
                pattern += text[j]
                j += 1
            if count:
                raise _PatternError(f"Unbalanced pattern at {i}")
            if not pattern:
                raise _PatternError(f"Missing pattern at {i}")
            tokens.append(_Lexeme("PATTERN", i, pattern))
            i = j
        else:
            tokens.append(_Lexeme("CHAR", i, char))
            i += 1
    tokens.append(_Lexeme("END", i, ""))
    return tokens


def _escape_string(text: str) -> str:
    return re.sub(r"([.+*?=^!:${}()\[\]|/\\])", r"\\\1", text)


def _parse(text: str) -> list[str | _Key]:
    tokens = _lex(text)
    result: list[str | _Key] = []
    key = 0
    i = 0
    path = ""

    def try_consume(kind: str) -> str | None:
        nonlocal i
        if i < len(tokens) and tokens[i].kind == kind:
            value = tokens[i].value
            i += 1
            # JavaScript: an escape at the very end has the value undefined, which reads as "nothing consumed"
            return value
        return None

    def must_consume(kind: str) -> str:
        value = try_consume(kind)
        if value is not None:
            return value
        raise _PatternError(f"Unexpected {tokens[i].kind} at {tokens[i].index}, expected {kind}")

    def consume_text() -> str:
        out = ""
        while True:
            value = try_consume("CHAR") or try_consume("ESCAPED_CHAR")
            if not value:
                return out
            out += value

    def safe_pattern(prefix: str) -> str:
        prev = result[-1] if result else None
        prev_text = prefix or (prev if isinstance(prev, str) else "")
        if prev is not None and not prev_text:
            assert isinstance(prev, _Key)
            raise _PatternError(f'Must have text between two parameters, missing text after "{prev.name}"')
        if not prev_text or any(d in prev_text for d in _DELIMITER):
            return f"[^{_escape_string(_DELIMITER)}]+?"
        return f"(?:(?!{_escape_string(prev_text)})[^{_escape_string(_DELIMITER)}])+?"

    while i < len(tokens):
        char = try_consume("CHAR")
        name = try_consume("NAME")
        pattern = try_consume("PATTERN")
        if name or pattern:
            prefix = char or ""
            if prefix not in _PREFIXES:  # JavaScript's indexOf: "" is found too
                path += prefix
                prefix = ""
            if path:
                result.append(path)
                path = ""
            if name:
                key_name: str | int = name
            else:
                key_name = key
                key += 1
            result.append(_Key(key_name, prefix, "", pattern or safe_pattern(prefix), try_consume("MODIFIER") or ""))
            continue
        value = char or try_consume("ESCAPED_CHAR")
        if value:
            path += value
            continue
        if path:
            result.append(path)
            path = ""
        if try_consume("OPEN"):
            prefix = consume_text()
            name = try_consume("NAME") or ""
            pattern = try_consume("PATTERN") or ""
            suffix = consume_text()
            must_consume("CLOSE")
            if name:
                group_name: str | int = name
            elif pattern:
                group_name = key
                key += 1
            else:
                group_name = ""
            result.append(
                _Key(
                    group_name,
                    prefix,
                    suffix,
                    safe_pattern(prefix) if name and not pattern else pattern,
                    try_consume("MODIFIER") or "",
                )
            )
            continue
        must_consume("END")
    return result


def _tokens_to_regexp(tokens: list[str | _Key]) -> str:
    # tokensToRegexp's defaults: strict=false, start=true, end=true, no endsWith
    route = "^"
    for token in tokens:
        if isinstance(token, str):
            route += _escape_string(token)
            continue
        prefix = _escape_string(token.prefix)
        suffix = _escape_string(token.suffix)
        if token.pattern:
            if prefix or suffix:
                if token.modifier in ("+", "*"):
                    mod = "?" if token.modifier == "*" else ""
                    route += f"(?:{prefix}((?:{token.pattern})(?:{suffix}{prefix}(?:{token.pattern}))*){suffix}){mod}"
                else:
                    route += f"(?:{prefix}({token.pattern}){suffix}){token.modifier}"
            else:
                if token.modifier in ("+", "*"):
                    raise _PatternError(f'Can not repeat "{token.name}" without a prefix and suffix')
                route += f"({token.pattern}){token.modifier}"
        else:
            route += f"(?:{prefix}{suffix}){token.modifier}"
    return route + f"[{_escape_string(_DELIMITER)}]?$"
