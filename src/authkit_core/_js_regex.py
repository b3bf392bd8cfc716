"""JavaScript regular expressions (no flags, Annex B) as Python :mod:`re` patterns that match the same strings.

path-to-regexp's custom patterns (``/api/(\\d+)``) are JavaScript; :func:`_translate` rewrites a whole source
(classes, escapes, quantifiers, groups, ``.`` and ``\\s`` with JavaScript's meaning) for ``re.ASCII``, or raises
:class:`~authkit_core._path_to_regexp._PatternError` for what JavaScript refuses or Python cannot reproduce (named
groups, backreferences, variable-width lookbehind). Used by :mod:`authkit_core.paths`.
"""

from __future__ import annotations

import re

from ._path_to_regexp import _PatternError

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
