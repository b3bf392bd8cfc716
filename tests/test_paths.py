"""``authkit_core.paths``: the rule between path-to-regexp patterns and globs, the decoded paths the middleware
matches, start-up errors and warnings. (``tests/interop/test_path_patterns.py`` compares the matcher with the real
npm path-to-regexp on a generated corpus.)"""

from __future__ import annotations

import logging

import pytest

from authkit_core.errors import ConfigurationError
from authkit_core.paths import (
    PathPatterns,
    canonical_path,
    compile_path_pattern,
    is_path_to_regexp,
    path_to_regexp_source,
    url_form,
)


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        ("/blog/:path*", "path-to-regexp"),
        ("/api/(.*)", "path-to-regexp"),
        ("/a{/b}", "path-to-regexp"),
        ("/public/*", "glob"),
        ("/about", "glob"),
        ("/a?c", "glob"),
        ("/[ab]", "glob"),
    ],
)
def test_the_rule(pattern: str, kind: str) -> None:
    assert is_path_to_regexp(pattern) == (kind == "path-to-regexp")
    assert compile_path_pattern(pattern).kind == kind


def test_globs_match_as_before() -> None:
    patterns = PathPatterns(["/public/*", "/static", "/a?c"])
    for path in ["/public/", "/public/a/b", "/static", "/abc"]:
        assert patterns.matches(path), path
    for path in ["/public", "/static/", "/Static", "/ac", "/x/public/a"]:
        assert not patterns.matches(path), path


def test_path_to_regexp_patterns() -> None:
    patterns = PathPatterns(["/blog/:path*", "/docs/:slug", "/api/(.*)", "/files/:name.json", "/v:major(\\d+)"])
    yes = ["/blog", "/blog/", "/blog/a/b/c", "/docs/x", "/docs/x/", "/api/", "/api/a/b", "/files/a.json"]
    no = ["/blogs", "/Blog/a", "/docs", "/docs/a/b", "/api", "/files/a.txt", "/v1", "/"]
    for path in yes:
        assert patterns.matches(path), path
    for path in no:
        assert not patterns.matches(path), path
    # "\\d" is "/d" after authkit-nextjs's URL step: the pattern matches "/v/dd", not "/v1"
    assert patterns.matches("/v/dd")


def test_decoded_paths_are_matched_as_a_browser_sends_them() -> None:
    patterns = PathPatterns(["/docs/:slug", "/café/:x", "/files/a%20b/:n", "/q/(a%3Fb)"])
    assert patterns.matches("/docs/café")  # /docs/caf%C3%A9
    assert patterns.matches("/café/1")  # the pattern is /caf%C3%A9/:x, the path /caf%C3%A9/1
    assert patterns.matches("/files/a b/1")  # a pattern written percent-encoded
    assert patterns.matches("/q/a?b")  # a decoded "?" was sent as %3F
    assert patterns.matches("/docs/a?b") and patterns.matches("/docs/a#b")
    assert not patterns.matches("/docs/a/b")  # sent as /docs/a%2Fb: the app routes on two segments
    assert not patterns.matches("/docs/x/../../admin")  # dot segments are resolved first: /admin
    assert patterns.matches("/docs/x/../y")


@pytest.mark.parametrize(
    ("decoded", "pathname"),
    [
        ("/", "/"),
        ("", "/"),
        ("/plain/path-1_~", "/plain/path-1_~"),
        ("/café", "/caf%C3%A9"),
        ("/a b", "/a%20b"),
        ("/a?b#c", "/a%3Fb%23c"),
        ("/100%", "/100%25"),
        ("/a\\b", "/a%5Cb"),
        ('/"<>`{}^|', "/%22%3C%3E%60%7B%7D^|"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/a/..", "/"),
        ("/a/.", "/a/"),
        ("/..", "/"),
        ("/.well-known/x", "/.well-known/x"),
        ("//x", "//x"),
        ("/%2e%2e/x", "/%252e%252e/x"),
    ],
)
def test_canonical_path(decoded: str, pathname: str) -> None:
    assert canonical_path(decoded) == pathname


@pytest.mark.parametrize(
    ("pattern", "form"),
    [
        ("/docs/:slug?", "/docs/:slug"),  # "?" starts the URL's query
        ("/a{/:b}?", "/a%7B/:b%7D"),  # groups are percent-encoded
        ("/a/:b(\\d+)", "/a/:b(/d+)"),  # "\" is "/"
        ("blog/:x", "/blog/:x"),
        ("/a/../b/:x", "/b/:x"),
        ("/a/%2e%2e/b/:x", "/b/:x"),
        (" /x/:y\t", "/x/:y"),
        ("/a/:b#frag", "/a/:b#frag"),
        ("/a/:b#", "/a/:b"),
    ],
)
def test_url_form_and_its_warning(pattern: str, form: str, caplog: pytest.LogCaptureFixture) -> None:
    assert url_form(pattern) == form
    with caplog.at_level(logging.WARNING, logger="authkit_session"):
        compile_path_pattern(pattern, option="sign_up_paths")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert repr(pattern) in caplog.text and repr(form) in caplog.text and "sign_up_paths" in caplog.text


def test_plain_patterns_compile_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="authkit_session"):
        PathPatterns(["/blog/:path*", "/docs/:slug", "/api/(.*)", "/café/:x", "/public/*"])
    assert not caplog.records


@pytest.mark.parametrize(
    "pattern",
    [
        "/docs/:",  # missing parameter name
        "/api/(.*",  # unbalanced
        "/a/(b(c))",  # capturing group
        "/a/((?:x))",  # "?" cut by the URL step: unbalanced
        "/:a:b",  # no text between parameters
        "/x/:y/*",  # a bare modifier
        "/x-(.*)*",  # repeated without a prefix
        "/a/([z-a])",  # JavaScript: range out of order
        "/a#(a*+)",  # JavaScript: nothing to repeat (Python 3.11 would read a possessive quantifier)
        "/a#(\\1)",  # a backreference: refused rather than guessed
        "https://example.com/a/:b",  # a URL, not a path
        "//example.com/a/:b",
        "mailto:x",
    ],
)
def test_invalid_patterns_name_themselves(pattern: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        PathPatterns(["/ok/:x", pattern], option="sign_up_paths")
    assert repr(pattern) in str(raised.value)
    assert raised.value.variable == "sign_up_paths"


def test_a_string_is_not_a_list() -> None:
    with pytest.raises(ConfigurationError):
        PathPatterns("/public/*")


def test_source_is_a_python_regex() -> None:
    assert path_to_regexp_source("/blog/:path*") == "^/blog(?:/((?:[^/\\#\\?]+?)(?:/(?:[^/\\#\\?]+?))*))?[/\\#\\?]?\\Z"
    assert not PathPatterns([])
    assert repr(PathPatterns(["/a/:b"])) == "PathPatterns(['/a/:b'])"
