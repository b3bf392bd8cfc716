"""Path patterns against the real npm ``path-to-regexp`` 6.3.0 (authkit-nextjs 4.3's dependency, pinned in
``node/package.json``), applied the way authkit-nextjs applies it (``node/path_patterns.mjs``): a seeded corpus of
path-to-regexp patterns, each with many URL pathnames, must get exactly node's answers, errors included; and where
the pathname is one a browser sends (its canonical encoding), the middleware's matcher on the decoded path must
give the same answer.

All cases run in one node process. A second part checks :func:`canonical_path` (the pathname a browser sends for
the decoded path the middleware sees) against node's URL parser.
"""

from __future__ import annotations

import json
import random
import subprocess
from typing import Any
from urllib.parse import unquote

import pytest

from authkit_core.errors import ConfigurationError
from authkit_core.paths import canonical_path, compile_path_pattern, is_path_to_regexp, url_form
from conftest import NODE_DIR, require_node, require_service

pytestmark = pytest.mark.node

SEED = 20261203
PATTERNS = 600
PATHS_PER_PATTERN = 40

LITERALS = ["blog", "docs", "api", "v1", "About", "user-profile", "file.json", "café", "a b", "x~y", "%7E", "_n", "ok"]
#: Segments as they appear in a URL pathname (already percent-encoded, as browsers send them).
SAMPLES = [
    "x",
    "hello-world",
    "a.b",
    "123",
    "0",
    "%C3%A9t%C3%A9",
    "a%20b",
    "a%2Fb",
    "a%3Fb",
    "a%23b",
    "A",
    "_",
    "~x",
    "a:b",
    "a@b",
    "(x)",
    "a+b",
    "%",
    "%zz",
    "a;b=c",
    "!$&'*,",
    "blog",
    "docs",
    "About",
    "json",
    "caf%C3%A9",
    "..",
    ".",
    "",
]
#: Custom patterns (the text between the parentheses) that survive authkit-nextjs's URL step.
CUSTOM = [
    ".*",
    "\\d+",  # the URL step makes it "/d+"
    "[0-9]+",
    "[a-z]+",
    "[^/]+",
    "a|b",
    "blog|docs",
    "(?:x|y)z*",
    "(?!admin).*",
    "(?=x).+",
    "[a-c][0-9]",
    "v[0-9]+",
    ".+",
    "[A-Z]",
    "x$",
    "^x",
    "[]",
    "[\\d-z]+",
    "[^]",
]
#: Custom patterns for the fragment, where the URL step leaves backslashes, braces and "?" alone: a workout for
#: the JavaScript-to-Python regex translation (the path holds a "#" only when a test sends it).
FRAGMENT_REGEXES = [
    "\\d+",
    "\\w*",
    "\\s",
    "\\S+",
    "\\bab",
    "a\\B",
    "[\\s]",
    "[^\\s]x",
    "\\x41",
    "\\u00e9",
    "\\cA",
    "\\c",
    "\\q",
    "\\/",
    "\\0",
    "a{2}",
    "a{1,3}",
    "a{,2}",
    "a{2,}",
    "{",
    "}",
    "]",
    "a{2}?",
    "a*?b",
    "a??",
    "a*+",
    "a++",
    "a{2}{3}",
    "*a",
    "[z-a]",
    "[\\b]",
    "[-a]",
    "[a-]",
    "[\\w-.]",
    "[.-\\d]",
    "(?:a|)b",
    "(?<=a)b",
    "(?<!a)b",
    "(?i)a",
    "(?<n>a)",
    ".",
    "$",
    "^",
    "a|b|",
    "[\\u0041-\\u005a]+",
    "\\t",
    "[[]",
    "[a&&b]",
    "[a--b]",
    "[~~]",
    "[||]",
]
FRAGMENT_SUBJECTS = [
    "1",
    "12",
    "abc",
    "a",
    "aa",
    "aaa",
    "b",
    "ab",
    " ",
    "\t",
    "\xa0",
    "\u2028",
    "\n",
    "é",
    "A",
    "\x01",
    "{",
    "}",
    "]",
    "[",
    "&",
    "~",
    "|",
    "-",
    ".",
    "\\",
    "/",
    "",
    "q",
    "c",
    "\\c",
    "k",
    "a{,2}",
    "ba",
    "\ufeff",
    "\x1c",
    "\x85",
    "_",
    "Z",
    "z",
]


def _param(rng: random.Random, name: str) -> str:
    kind = rng.random()
    modifier = rng.choice(["", "", "", "", "*", "*", "+", "?"])
    if kind < 0.55:
        return f"/:{name}{modifier}"
    if kind < 0.8:
        return f"/:{name}({rng.choice(CUSTOM)}){modifier}"
    if kind < 0.9:
        return f"/({rng.choice(CUSTOM)}){modifier}"
    return rng.choice([f"-:{name}", f".:{name}", f"/:{name}.json", f"{{/:{name}}}?", f"/\\:{name}", f"/x:{name}"])


def make_pattern(rng: random.Random) -> str:
    if rng.random() < 0.08:  # a regex in the fragment
        return f"/r#({rng.choice(FRAGMENT_REGEXES)})"
    parts: list[str] = []
    for i in range(rng.randint(1, 4)):
        if rng.random() < 0.45:
            parts.append(_param(rng, f"p{i}"))
        else:
            parts.append("/" + rng.choice(LITERALS))
    pattern = "".join(parts)
    twist = rng.random()
    if twist < 0.05:
        pattern = pattern.lstrip("/")
    elif twist < 0.1:
        pattern += "/"
    elif twist < 0.13:
        pattern = "/a/.." + pattern
    elif twist < 0.16:
        pattern += rng.choice(["*", "/*", "?", "#", "(", ")", "{", "::", "\\", "/(.*)"])
    if not is_path_to_regexp(pattern):
        pattern += "/:tail*"
    return pattern


def _segment(rng: random.Random) -> str:
    return rng.choice(SAMPLES)


def make_paths(rng: random.Random, pattern: str) -> list[str]:
    """Pathnames likely to match (the pattern instantiated) and near misses (cased, trailing slash, deeper...)."""
    if "#(" in pattern:
        return ["/r#" + subject for subject in FRAGMENT_SUBJECTS] + [
            "/r#" + rng.choice(FRAGMENT_SUBJECTS) + rng.choice(FRAGMENT_SUBJECTS) for _ in range(PATHS_PER_PATTERN)
        ]
    try:
        form = url_form(pattern)
    except ConfigurationError:
        form = pattern
    out: list[str] = []
    while len(out) < PATHS_PER_PATTERN:
        # instantiate: a parameter's text becomes one or more segments
        text = form.split("#")[0]
        pieces: list[str] = []
        for piece in text.split("/")[1:]:
            if ":" in piece or "(" in piece:
                count = rng.choice([0, 1, 1, 1, 2, 3])
                if count == 0:
                    continue
                head = piece.split(":")[0].split("(")[0]
                pieces.append(head + "/".join(_segment(rng) for _ in range(count)))
            else:
                pieces.append(piece)
        path = "/" + "/".join(pieces)
        mutation = rng.random()
        if mutation < 0.15:
            path += "/"
        elif mutation < 0.25:
            path = path.upper() if rng.random() < 0.5 else path.swapcase()
        elif mutation < 0.35:
            path += "/" + _segment(rng)
        elif mutation < 0.42:
            path = path.rsplit("/", 1)[0] or "/"
        elif mutation < 0.47:
            path += rng.choice(["//", "/.", "#", "?", "%2F", ".json", "-x"])
        elif mutation < 0.52:
            path = "/" + _segment(rng) + path
        out.append(path)
    return out


def corpus() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    cases: list[dict[str, Any]] = []
    fixed = ["/blog/:path*", "/docs/:slug", "/api/(.*)", "/join/:rest*", "/docs/:slug?", "/a{/:b}?", "/About/:x"]
    fixed += [f"/c/:p({custom})" for custom in CUSTOM] + [f"/r#({regex})" for regex in FRAGMENT_REGEXES]
    fixed += [" /x/:y\t", "/a/%2e%2E/:b", "\\\\host/:x", "/:a.:b", "/:a-:b", "/x{-:y}*", "/x/:y#", "/ü/:x"]
    fixed += ["/x/:y(ü+)", ":x", "/\\:x", "/a/:b\\", "/a/(x#?)", "/a/:b/..", "/a/:b/.", "/x/:y\n/z", "/a/:b%2F"]
    patterns = fixed + [make_pattern(rng) for _ in range(PATTERNS - len(fixed))]
    for pattern in patterns:
        cases.append({"pattern": pattern, "paths": make_paths(rng, pattern)})
    return cases


def decoded_corpus() -> list[str]:
    rng = random.Random(SEED + 1)
    alphabet = [
        "a",
        "Z",
        "0",
        "-",
        ".",
        "..",
        " ",
        "é",
        "😀",
        "?",
        "#",
        "%",
        "%41",
        "\\",
        '"',
        "<",
        ">",
        "`",
        "{",
        "}",
        "^",
        "|",
        "~",
        "\t",
        "\x00",
        "\x7f",
        "\x85",
        ":",
        "@",
        "!",
        "'",
        "[",
        "]",
        "+",
    ]
    out = ["/", "/a/./b", "/a/../b", "/..", "/a/..", "/a/.", "/.well-known/x", "//x", "/a//b", "/%2e%2e/x"]
    for _ in range(400):
        segments = []
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.15:
                segments.append(rng.choice([".", "..", ""]))
            else:
                segments.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))))
        out.append("/" + "/".join(segments))
    return out


@pytest.fixture(scope="module")
def node_answers() -> dict[str, Any]:
    node = require_node()
    require_service("path-to-regexp", (NODE_DIR / "node_modules" / "path-to-regexp").is_dir(), "run `make node-deps`")
    payload = {"cases": corpus(), "decoded": decoded_corpus()}
    done = subprocess.run(
        [node, str(NODE_DIR / "path_patterns.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=120,
        cwd=NODE_DIR,
    )
    answers: dict[str, Any] = json.loads(done.stdout)
    answers["payload"] = payload
    return answers


def test_matcher_gives_authkit_nextjs_answers(node_answers: dict[str, Any]) -> None:
    cases = node_answers["payload"]["cases"]
    compared = errors = matched = urls = fragments = browser = 0
    mismatches: list[str] = []
    for case, answer in zip(cases, node_answers["cases"], strict=True):
        pattern = case["pattern"]
        try:
            compiled = compile_path_pattern(pattern)
        except ConfigurationError as error:
            if "is a URL" in str(error) and "error" not in answer:
                urls += 1  # the documented difference: authkit-nextjs would use the URL's path part
                continue
            errors += 1
            if "error" not in answer:
                mismatches.append(f"{pattern!r}: Python refuses ({error}), node compiles {answer['source']!r}")
            continue
        assert compiled.kind == "path-to-regexp"
        fragments += "#(" in pattern
        if "error" in answer:
            mismatches.append(f"{pattern!r}: node refuses ({answer['error']}), Python compiles")
            continue
        if url_form(pattern) != answer["form"]:
            mismatches.append(f"{pattern!r}: URL form {url_form(pattern)!r}, node {answer['form']!r}")
        for path, expected in zip(case["paths"], answer["matches"], strict=True):
            compared += 1
            matched += expected
            if compiled.matches_pathname(path) != expected:
                mismatches.append(f"{pattern!r} on {path!r}: node {expected}, regex {compiled.regex.pattern!r}")
            # the middleware's view: the decoded path of a request a browser sends (its canonical encoding)
            decoded = unquote(path)
            if canonical_path(decoded) == path:
                browser += 1
                if compiled.matches(decoded) != expected:
                    mismatches.append(f"{pattern!r} on decoded {decoded!r}: node {expected} on {path!r}")
    print(
        f"path patterns: {len(cases)} patterns ({errors} refused by both, {urls} URLs refused by Python only, "
        f"{fragments} fragment regexes), {compared} (pattern, path) pairs compared, {matched} matching, "
        f"{browser} also as the middleware's decoded path"
    )
    assert not mismatches, "\n".join(mismatches[:40])
    assert compared > 15_000 and 0.15 < matched / compared < 0.85 and errors > 20 and browser > 10_000


def test_canonical_path_is_the_pathname_a_browser_sends(node_answers: dict[str, Any]) -> None:
    decoded = node_answers["payload"]["decoded"]
    wrong = [
        (path, canonical_path(path), pathname)
        for path, pathname in zip(decoded, node_answers["decoded"], strict=True)
        if canonical_path(path) != pathname
    ]
    assert not wrong, wrong[:20]
    assert len(decoded) > 400
