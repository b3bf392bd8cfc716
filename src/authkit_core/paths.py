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

This module holds the rule, the URL step and matching; the port of path-to-regexp is
:mod:`authkit_core._path_to_regexp`, and the translation of its JavaScript regular expressions into Python's is
:mod:`authkit_core._js_regex`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import translate
from typing import Literal

from ._js_regex import _translate
from ._path_to_regexp import _parse, _PatternError, _tokens_to_regexp
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
