"""Path patterns for ``unauthenticated_paths`` and ``sign_up_paths``: authkit-nextjs's path-to-regexp patterns and
the globs authkit-session always accepted, compiled once at start-up into one regular expression each.

**The rule.** A pattern containing ``:``, ``(`` or ``{`` is a path-to-regexp pattern (``/blog/:path*``,
``/docs/:slug``, ``/api/(.*)``); any other pattern is a glob matched with :func:`fnmatch.fnmatchcase` (``*`` also
matches ``/``, ``?`` one character, ``[...]`` a character set). A plain path such as ``/about`` is a glob and
matches ``/about`` only; as a path-to-regexp pattern (which authkit-nextjs makes of it) it would also match
``/about/``. Both kinds are case-sensitive.

**Path-to-regexp patterns** mean what they mean in authkit-nextjs 4.3, which runs every pattern through
``new URL(pattern, "https://example.com")``, keeps ``pathname + hash``, and compiles that with path-to-regexp 6.3.0
(``parse``, then ``tokensToRegexp`` with the default options; only the regex's source is kept, so matching is
case-sensitive): a parameter ``:name`` matches one segment, ``:name*`` zero or more segments, ``:name+`` one or
more, ``(regex)`` a custom pattern, and a trailing ``/`` is allowed. The URL step has surprising effects, which are
reproduced so that a pattern makes the same paths public in both libraries, and logged as a warning at start-up:
``?`` starts the URL's query, so it and everything after it are dropped (``/docs/:slug?`` means ``/docs/:slug``);
``\\`` becomes ``/`` (so escapes and ``\\d`` in custom patterns are lost); ``{`` and ``}`` are percent-encoded (so
groups never work); ``.`` and ``..`` segments are resolved; a pattern not starting with ``/`` is taken from ``/``.
A pattern that parses as a URL (``https://...``, ``//host/...``, ``name:...``) is refused: authkit-nextjs would
silently use its path part.

**What is matched.** authkit-nextjs matches the request's URL pathname, in which the browser percent-encoded
spaces, quotes, ``<>`{}`` and non-ASCII characters and resolved ``.``/``..`` segments. The middleware has the
decoded path (what the app routes on), so :class:`PathPatterns` matches path-to-regexp patterns against that path
re-encoded the same way (plus ``%``, ``?``, ``#`` and ``\\``, which a decoded path can only hold when they were
sent percent-encoded) with its dot segments resolved: ``/café`` matches a request for ``/caf%C3%A9``, and a
request for ``/docs/a%2Fb`` is the path ``/docs/a/b`` (two segments, as the app sees it), which ``/docs/:slug``
does not match. Globs match the decoded path as it is, as before.

A pattern path-to-regexp or JavaScript refuses, or whose custom pattern Python's :mod:`re` cannot reproduce
(named groups, backreferences, variable-width lookbehind), raises :class:`~authkit_core.errors.ConfigurationError`
naming it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import translate
from typing import Literal

from .errors import ConfigurationError

__all__ = [
    "PathPattern",
    "PathPatterns",
    "canonical_path",
    "compile_path_pattern",
    "is_path_to_regexp",
    "path_to_regexp_source",
    "url_form",
]

logger = logging.getLogger("authkit_session")

#: The characters that make a pattern a path-to-regexp pattern rather than a glob.
PATH_TO_REGEXP_MARKERS = frozenset(":({")

# --- new URL(pattern, "https://example.com"): pathname + hash ---------------------------------------------------

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_PATH_ENCODE = frozenset('"#<>?`{}')  # WHATWG's path percent-encode set, besides C0 controls, space and > U+007E
_FRAGMENT_ENCODE = frozenset('"<>`')
_SINGLE_DOT = frozenset({".", "%2e"})
_DOUBLE_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def _well_formed(text: str) -> str:
    # a lone surrogate becomes U+FFFD, as JavaScript's UTF-8 encoding of a URL does
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _percent_encode(text: str, extra: frozenset[str]) -> str:
    out: list[str] = []
    for char in _well_formed(text):
        code = ord(char)
        if code <= 0x20 or code > 0x7E or char in extra:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
        else:
            out.append(char)
    return "".join(out)


def _resolve_segments(segments: list[str], *, encoded: bool) -> list[str]:
    # WHATWG's path state: "." and ".." segments (also "%2e" spelled, in an encoded path); one that ends the path
    # leaves a trailing slash
    out: list[str] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        key = segment.lower() if encoded else segment
        if key in _DOUBLE_DOT if encoded else key == "..":
            if out:
                out.pop()
            if i == last:
                out.append("")
        elif key in _SINGLE_DOT if encoded else key == ".":
            if i == last:
                out.append("")
        else:
            out.append(segment)
    return out


def url_form(pattern: str) -> str:
    """What authkit-nextjs compiles for ``pattern``: ``pathname + hash`` of ``new URL(pattern,
    "https://example.com")`` (the query is dropped, ``\\`` is ``/``, dot segments are resolved, some characters are
    percent-encoded). Raises :class:`ConfigurationError` for a pattern that parses as a URL rather than a path."""
    try:
        return _url_form(pattern)
    except _PatternError as error:
        raise ConfigurationError(f"invalid path pattern {pattern!r}: {error}") from None


def _url_form(pattern: str) -> str:
    text = pattern.strip(_C0_OR_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    if _SCHEME.match(text) or re.match(r"[/\\]{2}", text):
        raise _PatternError(
            "it is a URL, not a path: write the path only (authkit-nextjs would silently use the URL's path part)"
        )
    end = len(text)
    for stop in "?#":
        at = text.find(stop)
        if at != -1:
            end = min(end, at)
    path = text[:end]
    hash_at = text.find("#")
    fragment = _percent_encode(text[hash_at + 1 :], _FRAGMENT_ENCODE) if hash_at != -1 else ""
    if path:
        segments = re.split(r"[/\\]", path)
        if path[0] in "/\\":
            segments = segments[1:]
        resolved = _resolve_segments([_percent_encode(s, _PATH_ENCODE) for s in segments], encoded=True)
        pathname = "/" + "/".join(resolved)
    else:
        pathname = "/"
    return pathname + ("#" + fragment if fragment else "")


_CANONICAL_EXTRA = _PATH_ENCODE | frozenset("%\\")
# a decoded path that needs no work: printable ASCII but the characters above (and no "/.": no dot segment)
_PLAIN_PATH = re.compile(r"/[!$&'()*+,\-./0-9:;=@A-Z\[\]^_a-z|~]*\Z")


def canonical_path(path: str) -> str:
    """The decoded request ``path`` as a browser would have sent it and authkit-nextjs would match it: ``.`` and
    ``..`` segments resolved, and the characters of WHATWG's path percent-encode set (C0 controls, space, ``"#<>?`{}``,
    non-ASCII) plus ``%`` and ``\\`` percent-encoded as UTF-8."""
    if _PLAIN_PATH.match(path) and "/." not in path:
        return path
    segments = path.split("/")
    if segments[0] == "":
        segments = segments[1:]
    resolved = _resolve_segments(segments, encoded=False)
    return "/" + "/".join(_percent_encode(s, _CANONICAL_EXTRA) for s in resolved)


# --- path-to-regexp 6.3.0: lexer, parse, tokensToRegexp ----------------------------------------------------------

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


# --- JavaScript regular expressions (no flags, Annex B) to Python's re --------------------------------------------

# JavaScript's \s: the Unicode white space and line terminators
_JS_SPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_SPACE_CLASS = "[" + "".join("-" if c == "-" else f"\\u{ord(c):04x}" for c in _JS_SPACE) + "]"
_JS_NOT_SPACE_CLASS = "[^" + _JS_SPACE_CLASS[1:]
_JS_DOT = "[^\\n\\r\\u2028\\u2029]"
_QUANTIFIER = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")


def _class_char(code: int) -> str:
    # one character, literally, inside or outside a class (escaped: no FutureWarning about set operations)
    if 0x21 <= code <= 0x7E:
        return re.escape(chr(code))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape_code(source: str, i: int, *, in_class: bool) -> tuple[int | str, int]:
    """The escape starting at ``source[i] == "\\"``: a code point, or a Python class escape (``\\d``...); and the
    index after it."""
    if i + 1 >= len(source):
        raise _PatternError("\\ at end of pattern")
    c = source[i + 1]
    if c in "dDwW" or (c in "bB" and not in_class):
        return "\\" + c, i + 2
    if c == "s":
        return "s", i + 2
    if c == "S":
        return "S", i + 2
    simple = {"f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
    if c in simple:
        return simple[c], i + 2
    if c == "b" and in_class:
        return 0x08, i + 2
    if c == "0" and not (i + 2 < len(source) and source[i + 2] in "0123456789"):
        return 0, i + 2
    if c in "0123456789":
        raise _PatternError(f"backreferences and octal escapes are not supported (\\{c})")
    if c == "x" and _HEX2.match(source, i + 2):
        return int(source[i + 2 : i + 4], 16), i + 4
    if c == "u" and _HEX4.match(source, i + 2):
        return int(source[i + 2 : i + 6], 16), i + 6
    if c == "c":
        control = source[i + 2] if i + 2 < len(source) else ""
        if control.isascii() and (control.isalpha() or (in_class and (control.isdigit() or control == "_"))):
            return ord(control) % 32, i + 3
        return ord("\\"), i + 1  # a backslash; the "c" is read next as itself
    if c == "k":
        return ord("k"), i + 2  # no named groups (they are refused), so \k is "k"
    return ord(c), i + 2  # an identity escape (Annex B): \a is "a", \/ is "/"


def _translate_class(source: str, i: int) -> tuple[str, int]:
    """The class starting at ``source[i] == "["``, in Python's syntax, and the index after it."""
    i += 1
    negated = i < len(source) and source[i] == "^"
    if negated:
        i += 1
    items: list[str] = []
    while True:
        if i >= len(source):
            raise _PatternError("Unterminated character class")
        if source[i] == "]":
            i += 1
            break
        atom: int | str
        if source[i] == "\\":
            atom, i = _escape_code(source, i, in_class=True)
        else:
            atom, i = ord(source[i]), i + 1
        if atom == "S":
            raise _PatternError("\\S inside a character class is not supported")
        if isinstance(atom, int) and i + 1 < len(source) and source[i] == "-" and source[i + 1] != "]":
            # a range, unless its other end is a class escape (Annex B: then "-" is itself, read next)
            if source[i + 1] == "\\":
                end, after = _escape_code(source, i + 1, in_class=True)
            else:
                end, after = ord(source[i + 1]), i + 2
            if isinstance(end, int):
                if end < atom:
                    raise _PatternError("Range out of order in character class")
                items.append(_class_char(atom) + "-" + _class_char(end))
                i = after
                continue
        items.append(_atom_text(atom))
    if not items:
        return ("[\\s\\S]" if negated else "(?!)"), i
    return "[" + ("^" if negated else "") + "".join(items) + "]", i


def _atom_text(atom: int | str) -> str:
    if isinstance(atom, int):
        return _class_char(atom)
    if atom == "s":
        return _JS_SPACE_CLASS[1:-1]
    return atom  # \d \D \w \W


def _translate(source: str) -> str:
    """A JavaScript regular expression (no flags) as a Python :mod:`re` pattern (compiled with ``re.ASCII``) that
    matches the same strings, or :class:`_PatternError` for what JavaScript refuses or Python cannot reproduce."""
    out: list[str] = []
    i = 0
    n = len(source)
    quantified = False  # the last thing emitted was a quantifier (another one is "Nothing to repeat")
    while i < n:
        c = source[i]
        quantifier: str | None = None
        if c in "*+?":
            quantifier, i = c, i + 1
        elif c == "{" and (m := _QUANTIFIER.match(source, i)):
            low, high = int(m.group(1)), m.group(3)
            if m.group(2) and high and int(high) < low:
                raise _PatternError("numbers out of order in {} quantifier")
            quantifier, i = m.group(0), m.end()
        if quantifier is not None:
            if quantified:
                raise _PatternError("Nothing to repeat")
            if i < n and source[i] == "?":
                quantifier += "?"
                i += 1
            out.append(quantifier)
            quantified = True
            continue
        quantified = False
        if c == "\\":
            atom, i = _escape_code(source, i, in_class=False)
            if atom == "s":
                out.append(_JS_SPACE_CLASS)
            elif atom == "S":
                out.append(_JS_NOT_SPACE_CLASS)
            elif isinstance(atom, str):
                out.append(atom)
            else:
                out.append(_class_char(atom))
        elif c == "[":
            text, i = _translate_class(source, i)
            out.append(text)
        elif c == "(":
            if source.startswith("(?", i):
                for opener in ("(?:", "(?=", "(?!", "(?<=", "(?<!"):
                    if source.startswith(opener, i):
                        out.append(opener)
                        i += len(opener)
                        break
                else:
                    raise _PatternError("only (?:, (?=, (?!, (?<= and (?<! groups are supported")
            else:
                out.append("(")
                i += 1
        elif c == ".":
            out.append(_JS_DOT)
            i += 1
        elif c == "$":
            out.append("\\Z")
            i += 1
        elif c in "^|)":
            out.append(c)
            i += 1
        else:
            out.append(_class_char(ord(c)))
            i += 1
    return "".join(out)


def path_to_regexp_source(pattern: str) -> str:
    """The Python regular expression authkit-nextjs's procedure makes of ``pattern`` (see the module's docstring),
    to be compiled with ``re.ASCII`` and matched from the start of a URL pathname. Raises :class:`ConfigurationError`
    naming the pattern when path-to-regexp or JavaScript would refuse it, or Python cannot reproduce it."""
    try:
        return _source(pattern)
    except _PatternError as error:
        raise ConfigurationError(f"invalid path pattern {pattern!r}: {error}") from None


def _source(pattern: str) -> str:
    return _translate(_tokens_to_regexp(_parse(_url_form(pattern))))


def is_path_to_regexp(pattern: str) -> bool:
    """The rule: a pattern containing ``:``, ``(`` or ``{`` is a path-to-regexp pattern, anything else a glob."""
    return not PATH_TO_REGEXP_MARKERS.isdisjoint(pattern)


@dataclass(frozen=True, slots=True)
class PathPattern:
    """One compiled pattern: ``kind`` says how it is read, ``regex`` is what matches (see :meth:`matches`)."""

    pattern: str
    kind: Literal["path-to-regexp", "glob"]
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        """Whether the decoded request ``path`` matches (a path-to-regexp pattern sees :func:`canonical_path`)."""
        return self.regex.match(canonical_path(path) if self.kind == "path-to-regexp" else path) is not None

    def matches_pathname(self, pathname: str) -> bool:
        """Whether the regex matches ``pathname`` as it is (for a path-to-regexp pattern: a URL pathname, as
        authkit-nextjs's ``regex.exec(request.nextUrl.pathname)`` tests it)."""
        return self.regex.match(pathname) is not None


def compile_path_pattern(pattern: str, *, option: str = "unauthenticated_paths") -> PathPattern:
    """Compile one pattern (``option`` names the setting in errors and warnings). Raises
    :class:`ConfigurationError` for an invalid one; logs a warning when authkit-nextjs's URL step changes it."""
    if not isinstance(pattern, str):
        raise ConfigurationError(f"{option}: a path pattern must be a string, not {pattern!r}", variable=option)
    if not is_path_to_regexp(pattern):
        return PathPattern(pattern, "glob", re.compile(translate(pattern)))
    try:
        regex = re.compile(_source(pattern), re.ASCII)
    except _PatternError as error:
        raise ConfigurationError(f"{option}: invalid path pattern {pattern!r}: {error}", variable=option) from None
    except (re.error, RecursionError, OverflowError) as error:
        raise ConfigurationError(
            f"{option}: invalid path pattern {pattern!r}: its regular expression does not compile ({error})",
            variable=option,
        ) from None
    form = _url_form(pattern)
    if any(c in pattern for c in "?#\\{}") or form != _percent_encode(pattern, _PATH_ENCODE):
        logger.warning(
            "authkit: %s pattern %r is matched as %r, as authkit-nextjs reads it (a URL: `?` starts the query and "
            "is dropped with what follows, `\\` is `/`, `{` and `}` are percent-encoded, dot segments are resolved)",
            option,
            pattern,
            form,
        )
    return PathPattern(pattern, "path-to-regexp", regex)


class PathPatterns:
    """A list of patterns compiled once into one regex per kind; :meth:`matches` is what the middleware calls on
    every signed-out request (one or two ``re.match`` calls, and a re-encoding only for unusual paths)."""

    __slots__ = ("_globs", "_routes", "patterns")

    def __init__(self, patterns: Iterable[str], *, option: str = "unauthenticated_paths") -> None:
        if isinstance(patterns, str):
            raise ConfigurationError(f"{option} must be a list of patterns, not a string", variable=option)
        #: The compiled patterns, in order.
        self.patterns: tuple[PathPattern, ...] = tuple(compile_path_pattern(p, option=option) for p in patterns)
        globs = [p.regex.pattern for p in self.patterns if p.kind == "glob"]
        routes = [p.regex.pattern for p in self.patterns if p.kind == "path-to-regexp"]
        self._globs = re.compile("|".join(f"(?:{g})" for g in globs)) if globs else None
        self._routes = re.compile("|".join(f"(?:{r})" for r in routes), re.ASCII) if routes else None

    def matches(self, path: str) -> bool:
        """Whether the decoded request ``path`` matches one of the patterns."""
        if self._globs is not None and self._globs.match(path):
            return True
        return self._routes is not None and self._routes.match(canonical_path(path)) is not None

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"PathPatterns({[p.pattern for p in self.patterns]!r})"
