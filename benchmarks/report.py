"""Turn one run's results into the JSON file, the Markdown table, the PNG chart and docs/performance.md.

Also judges the issue's targets (``targets``): each with what was measured in this run and whether it is met.
``docs/performance.md`` keeps its hand-written text; only the part between the ``results:start`` and
``results:end`` markers is replaced.
"""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from typing import Any

START, END = "<!-- results:start -->", "<!-- results:end -->"


def machine() -> dict[str, Any]:
    """Cores, CPU model (from /proc/cpuinfo), Python and OS."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
    }


# --- targets -------------------------------------------------------------------------------------------------------


def _fig(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    figure: dict[str, Any] | None = results.get("hot_path", {}).get("figures", {}).get(name)
    return figure


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, judged on this run's figures (ratios within the run)."""
    out: list[dict[str, Any]] = []

    def add(name: str, measured: str, met: bool | None) -> None:
        out.append({"target": name, "measured": measured, "met": met})

    cold, sdk, floor = (_fig(results, n) for n in ("engine.cookie.cold", "sdk.authenticate", "floor.pipeline"))
    crypto, warm = _fig(results, "floor.crypto"), _fig(results, "engine.cookie")
    if cold and sdk:
        ratio = sdk["median"] / cold["median"]
        add("cookie, nothing cached: >= 2x faster than the workos SDK", f"{ratio:.2f}x", ratio >= 2)
    if cold and floor:
        ratio = cold["median"] / floor["median"]
        add("cookie, nothing cached: within 2x of the floor pipeline", f"{ratio:.2f}x the floor", ratio <= 2)
    asgi_warm = _fig(results, "asgi.cookie")
    if asgi_warm and "added_median" in asgi_warm:
        added = asgi_warm["added_median"]
        add("repeated request (cookie, ASGI middleware): added < 10 us", f"{added:.1f} us", added < 10)
    if warm:
        add("repeated request (cookie, engine): < 10 us", f"{warm['median']:.1f} us", warm["median"] < 10)
    if warm and sdk:
        ratio = sdk["median"] / warm["median"]
        add("repeated request (engine): >= 20x faster than the workos SDK", f"{ratio:.1f}x", ratio >= 20)
    if warm and crypto:
        add(
            "repeated request (engine): below the cryptographic floor",
            f"{warm['median']:.1f} us vs {crypto['median']:.1f} us",
            warm["median"] < crypto["median"],
        )
    throughput = results.get("throughput", {})
    for key, label in (("uvicorn", "uvicorn, constant app"), ("uvicorn+starlette", "uvicorn, Starlette app")):
        entry = throughput.get(key)
        if entry and entry.get("ratio") is not None:
            ratio = entry["ratio"]
            add(f"throughput behind the middleware >= 90% of bare ({label})", f"{ratio:.0%}", ratio >= 0.9)
    for key in ("uvicorn", "uvicorn+starlette", "gunicorn", "gunicorn+flask"):
        entry, reference = throughput.get(key), throughput.get(f"{key}, header-only middleware (reference)")
        if entry and reference and entry.get("ratio") is not None and reference.get("ratio") is not None:
            gap = (reference["ratio"] - entry["ratio"]) * 100
            add(
                f"throughput within 5 points of the header-only middleware ({key})",
                f"{entry['ratio']:.0%} vs {reference['ratio']:.0%}",
                gap <= 5,
            )
    counted = results.get("instructions", {})
    for key in ("uvicorn", "uvicorn+starlette"):
        entry, reference = counted.get(key), counted.get(f"{key}, header-only middleware (reference)")
        if entry and reference:
            gap = (reference["ratio"] - entry["ratio"]) * 100
            add(
                f"instructions per request within 5 points of the header-only middleware ({key})",
                f"{entry['ratio']:.1%} vs {reference['ratio']:.1%} of bare",
                gap <= 5,
            )
    for backend, entry in results.get("refresh", {}).items():
        added = entry["added_median"] / 1000
        add(f"refresh ({backend}): library adds < 1 ms at p50", f"{added:.2f} ms", added < 1)
    storms = results.get("storm", [])
    if storms:
        bad = [s for s in storms if s["grants"] != 1 or s["failures"] != 0]
        add("refresh storm: 1 grant and 0 failures in every storm", f"{len(storms) - len(bad)}/{len(storms)}", not bad)
    for kind in ("due", "expired"):
        entry = results.get("outage", {}).get(kind)
        if entry:
            p99 = entry["on"]["p99"]
            add(f"WorkOS down ({kind} sessions), breaker on: p99 < 50 ms", f"{p99:.2f} ms", p99 < 50)
    for backend, entry in results.get("scale", {}).get("sql", {}).items():
        spread = entry["spread"]
        rows = [e["rows"] for e in entry["sizes"]]
        add(
            f"store load latency flat within 1.5x ({backend}, {min(rows):,}..{max(rows):,} sessions)",
            f"{spread:.2f}x",
            spread <= 1.5,
        )
    return out


# --- Markdown ----------------------------------------------------------------------------------------------------


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _pct(ratio: float | None) -> str:
    """A ratio as a percentage; "n/a" when there is none (the bare server served nothing: an overloaded run)."""
    return "n/a" if ratio is None else f"{ratio:.0%}"


def _instructions_lines(counted: dict[str, Any] | None) -> list[str]:
    if not counted:
        return []
    lines = [
        "### Instructions per request (callgrind): bare app vs behind the middleware, uvicorn",
        "",
        "Counted by valgrind over the same requests, whatever else the machine does (`benchmarks/instructions.py`);",
        "the share is bare / behind: what the middleware would keep of the bare throughput if instructions were all.",
        "",
        "| server + app | bare | behind the middleware | added | share of bare |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, e in counted.items():
        if isinstance(e, dict):
            lines.append(
                f"| {name} | {e['bare']:,.0f} | {e['authkit']:,.0f} | {e['authkit'] - e['bare']:,.0f} "
                f"| {e['ratio']:.1%} |"
            )
    if isinstance(counted.get("note"), str):
        lines.append(f"\n{counted['note']}")
    return [*lines, ""]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _users_http_lines(found: dict[str, Any] | None) -> list[str]:
    """The many-users table through uvicorn (see ``users_http.py``)."""
    if not found:
        return []
    from .users_http import table

    return [
        "### Many users through uvicorn: throughput behind the middleware over N distinct sessions",
        "",
        f"{found['connections']} keep-alive connections, {found['seconds']:g} s per measurement after one pass over"
        " the N sessions; share of the bare app's requests per second in the same run.",
        "",
        *table(found),
        "",
    ]


def _telemetry_lines(found: dict[str, Any] | None) -> list[str]:
    """The OpenTelemetry overhead table (see ``telemetry.py``)."""
    if not found:
        return []
    from .telemetry import table

    return ["### OpenTelemetry: what `instrument()` adds (medians)", "", table(found), ""]


def _users_lines(users: dict[str, Any] | None) -> list[str]:
    """The many-users table: per store and N, microseconds per request and what stayed signed in."""
    if not users:
        return []
    lines = [
        "### Many users: `AuthKit.authenticate` over N distinct sessions (microseconds per request, in process)",
        "",
        "| store | N | round-robin median | mean | signed out | skewed median | mean | signed out | B / session |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for store, rows in users.items():
        for r in rows:
            lines.append(
                f"| {store} | {r['sessions']:,} | {_us(r['round_robin_median_us'])} | {_us(r['round_robin_mean_us'])} "
                f"| {r['round_robin_signed_out']:,} | {_us(r['skewed_median_us'])} | {_us(r['skewed_mean_us'])} "
                f"| {r['skewed_signed_out']:,} | {r['bytes_per_session']:,.0f} |"
            )
    lines.append("")
    return lines


def _outage_lines(outage: dict[str, Any] | None) -> list[str]:
    """The outage table: per request latency with WorkOS stopped, circuit breaker off (before) and on (after)."""
    if not outage:
        return []
    st = outage["settings"]
    lines = [
        "### Outage: requests of sessions due for refresh with the emulator stopped mid-run (ms)",
        "",
        f"Cookie store, {st['sessions']} sessions per kind, {st['threads']} threads, max_retries={st['max_retries']}; "
        "`off` = no circuit breaker (the behaviour before it), `on` = the default breaker. `due`: the access token "
        "is still valid (served with it); `expired`: it is not (answered signed out, session kept: a protected "
        "page gets a 503). Attempts = HTTP requests the engine tried per request.",
        "",
        "| sessions | breaker | requests | p50 | p99 | attempts / request | wrong answers |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind in ("due", "expired"):
        entry = outage.get(kind)
        if not entry:
            continue
        for mode in ("off", "on"):
            e = entry[mode]
            lines.append(
                f"| {kind} | {mode} | {e['n']} | {_ms(e['median'])} | {_ms(e['p99'])} "
                f"| {e['attempts_per_request']:.2f} | {e['wrong']} |"
            )
        lines.append(f"| {kind} | off / on | | {entry['p50_ratio']:,.0f}x | {entry['p99_ratio']:,.0f}x | | |")
    up = outage.get("up", {})
    if up:
        lines += [
            "",
            "While the emulator answered, the same requests refreshed in "
            + ", ".join(f"{_ms(v['median'])} ms p50 ({k})" for k, v in up.items())
            + ".",
        ]
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    """Every table of the run."""
    lines: list[str] = []
    meta = results["meta"]
    m = meta["machine"]
    lines += [
        f"Run {meta['started_at']} ({'smoke' if meta['smoke'] else 'full'}, {meta['duration_s']:.0f} s): "
        f"{m['cores']} cores, {m['cpu_model']}, {m['implementation']} {m['python']}, {m['os']}.",
        "",
    ]
    hot = results.get("hot_path")
    if hot:
        lines += [
            "### Hot path: one request with a valid session (microseconds, in-process)",
            "",
            "| case | median | p95 | p99 | added vs bare app (median) |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, f in sorted(hot["figures"].items()):
            lines.append(
                f"| `{name}` | {_us(f.get('median'))} | {_us(f.get('p95'))} | {_us(f.get('p99'))} "
                f"| {_us(f.get('added_median'))} |"
            )
        lines += [""] + [f"- {note}" for note in hot.get("notes", [])]
        ratios = _ratios(hot["figures"])
        if ratios:
            lines += ["", "| comparison (same run) | ratio |", "| --- | ---: |"]
            lines += [f"| {k} | {v} |" for k, v in ratios]
        lines.append("")
    refresh = results.get("refresh")
    if refresh:
        lines += [
            "### Refresh latency: a request whose access token must be refreshed (ms, real HTTP to the emulator)",
            "",
            "| backend | total p50 | total p95 | bare grant p50 | library adds (p50) | library adds (p95) "
            "| one SQL write p50 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, e in refresh.items():
            write = e.get("one_write", {}).get("median")
            lines.append(
                f"| {name} | {_ms(e['total']['median'] / 1000)} | {_ms(e['total']['p95'] / 1000)} "
                f"| {_ms(e['bare_grant']['median'] / 1000)} | {_ms(e['added_median'] / 1000)} "
                f"| {_ms(e['added_p95'] / 1000)} | {_ms(write / 1000) if write else '-'} |"
            )
        lines.append("")
    storm = results.get("storm")
    if storm:
        lines += [
            "### Refresh storm: N concurrent requests on one expiring session",
            "",
            "| backend | face | processes | N | refresh grants | failures | p50 ms | p99 ms |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in storm:
            lines.append(
                f"| {s['backend']} | {s['face']} | {s['processes']} | {s['n']} | {s['grants']} | {s['failures']} "
                f"| {_ms(s['p50_ms'])} | {_ms(s['p99_ms'])} |"
            )
        lines.append("")
    lines += _outage_lines(results.get("outage"))
    lines += _users_lines(results.get("users"))
    lines += _users_http_lines(results.get("users_http"))
    lines += _telemetry_lines(results.get("telemetry"))
    tp = results.get("throughput")
    if tp:
        lines += [
            "### Throughput: requests per second, bare app vs behind the middleware (cookie store, warm caches)",
            "",
            "The middleware is AuthKit's except on the reference rows (Starlette's own `SessionMiddleware`; a",
            "middleware that only adds two headers).",
            "",
            "| server + app | bare rps | behind the middleware rps | ratio | server CPU us/request, bare / behind "
            "| bare p99 ms | middleware p99 ms | errors |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, e in tp.items():
            if not isinstance(e, dict) or "bare" not in e:
                continue
            cpu = [e[side].get("cpu_us") for side in ("bare", "authkit")]
            cpu_text = " / ".join(f"{c:.1f}" for c in cpu) if None not in cpu else "n/a"
            lines.append(
                f"| {name} | {e['bare']['rps']:,.0f} | {e['authkit']['rps']:,.0f} | {_pct(e['ratio'])} "
                f"| {cpu_text} | {_ms(e['bare']['p99_ms'])} | {_ms(e['authkit']['p99_ms'])} "
                f"| {e['bare']['errors'] + e['authkit']['errors']} |"
            )
        lines.append("")
    lines += _instructions_lines(results.get("instructions"))
    scale = results.get("scale")
    if scale:
        if scale.get("sql"):
            lines += [
                "### Scale: server-side `store.load` latency against stored sessions (microseconds)",
                "",
                "| backend | sessions | fill s | median | p95 | p99 |",
                "| --- | ---: | ---: | ---: | ---: | ---: |",
            ]
            for name, e in scale["sql"].items():
                for s in e["sizes"]:
                    lines.append(
                        f"| {name} | {s['rows']:,} | {s['fill_seconds']:.1f} | {_us(s['median'])} "
                        f"| {_us(s['p95'])} | {_us(s['p99'])} |"
                    )
            lines.append("")
        mem = scale.get("memory")
        if mem:
            lines += [
                f"Memory per session (tracemalloc, {mem['sessions']} sessions): cookie backend caches after one "
                f"request {mem['cookie_backend_caches_bytes_per_session']:,.0f} B; MemorySessionStore entry "
                f"{mem['memory_store_bytes_per_session']:,.0f} B.",
                "",
            ]
        if scale.get("cookie_sizes"):
            lines += [
                "| permissions | access token bytes | Set-Cookie bytes | cookies (chunks) |",
                "| ---: | ---: | ---: | ---: |",
            ]
            for c in scale["cookie_sizes"]:
                lines.append(
                    f"| {c['permissions']} | {c['access_token_bytes']:,} | {c['cookie_bytes']:,} | {c['cookies']} |"
                )
            lines.append("")
    if results.get("targets"):
        lines += ["### Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
        for t in results["targets"]:
            met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
            lines.append(f"| {t['target']} | {t['measured']} | {met} |")
        lines.append("")
    return "\n".join(lines)


def _ratios(figures: dict[str, Any]) -> list[tuple[str, str]]:
    def med(name: str) -> float | None:
        f = figures.get(name)
        return None if f is None else f.get("median")

    pairs = [
        ("workos SDK / ours, cookie, nothing cached (engine)", "sdk.authenticate", "engine.cookie.cold"),
        ("workos SDK / ours, cookie, repeated request (engine)", "sdk.authenticate", "engine.cookie"),
        ("ours, nothing cached / floor pipeline", "engine.cookie.cold", "floor.pipeline"),
        ("ours, repeated request / floor crypto", "engine.cookie", "floor.crypto"),
        ("authkit-nextjs in node / ours, nothing cached", "node.authkit_nextjs", "engine.cookie.cold"),
        ("authkit-nextjs in node / ours, repeated request", "node.authkit_nextjs", "engine.cookie"),
        ("workos SDK in ASGI / ours in ASGI (cookie, warm)", "asgi.sdk", "asgi.cookie"),
        ("workos SDK in ASGI / ours in ASGI (cookie, nothing cached)", "asgi.sdk", "asgi.cookie.cold"),
        ("repeated bearer token / repeated cookie (engine)", "engine.bearer", "engine.cookie"),
        ("repeated bearer token / repeated cookie (ASGI)", "asgi.bearer", "asgi.cookie"),
        ("repeated bearer token / repeated cookie (WSGI)", "wsgi.bearer", "wsgi.cookie"),
    ]
    out = []
    for label, a, b in pairs:
        x, y = med(a), med(b)
        if x and y:
            out.append((label, f"{x / y:.2f}x"))
    return out


# --- chart -------------------------------------------------------------------------------------------------------


def chart(results: dict[str, Any], path: Path) -> bool:
    """A 2x2 PNG: hot path medians, throughput, SQL scale, cookie size. ``False`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    ax = axes[0][0]
    figures = results.get("hot_path", {}).get("figures", {})
    names = sorted(figures, key=lambda n: figures[n]["median"])
    if names:
        medians = [figures[n]["median"] for n in names]
        p95 = [figures[n]["p95"] - figures[n]["median"] for n in names]
        colors = [
            "tab:orange"
            if n.startswith(("sdk", "node", "asgi.sdk"))
            else "tab:gray"
            if n.startswith("floor")
            else "tab:blue"
            for n in names
        ]
        ax.barh(names, medians, xerr=[[0] * len(p95), p95], color=colors, capsize=2)
        ax.set_xscale("log")
        ax.set_xlabel("microseconds per request (median, whisker to p95; log)")
        ax.set_title("Hot path (blue: ours, orange: workos SDK / node, gray: floor)")
        ax.tick_params(axis="y", labelsize=7)
    ax = axes[0][1]
    tp = {k: v for k, v in results.get("throughput", {}).items() if isinstance(v, dict) and "bare" in v}
    if tp:
        keys = list(tp)
        labels = [
            k.replace(", Starlette SessionMiddleware (reference)", "\nSessionMiddleware (ref.)").replace(
                ", header-only middleware (reference)", "\nheader-only (ref.)"
            )
            for k in keys
        ]
        xs = range(len(keys))
        ax.bar([x - 0.2 for x in xs], [tp[k]["bare"]["rps"] for k in keys], 0.4, label="bare app")
        ax.bar([x + 0.2 for x in xs], [tp[k]["authkit"]["rps"] for k in keys], 0.4, label="behind the middleware")
        ax.set_xticks(list(xs), labels, fontsize=6, rotation=20)
        ax.set_ylabel("requests per second")
        ax.set_title("Throughput (cookie store, warm caches)")
        ax.legend()
    ax = axes[1][0]
    for name, entry in results.get("scale", {}).get("sql", {}).items():
        rows = [s["rows"] for s in entry["sizes"]]
        ax.plot(rows, [s["median"] for s in entry["sizes"]], marker="o", label=f"{name} median")
        ax.plot(rows, [s["p95"] for s in entry["sizes"]], marker="x", linestyle="--", label=f"{name} p95")
    ax.set_xscale("log")
    ax.set_xlabel("stored sessions")
    ax.set_ylabel("store.load microseconds")
    ax.set_title("Store load latency vs stored sessions")
    if results.get("scale", {}).get("sql"):
        ax.legend()
    ax = axes[1][1]
    sizes = results.get("scale", {}).get("cookie_sizes", [])
    if sizes:
        ax.plot([c["permissions"] for c in sizes], [c["cookie_bytes"] for c in sizes], marker="o")
        ax.axhline(4096, color="tab:red", linestyle=":", label="one browser cookie (4096 B)")
        ax.set_xlabel("permissions in the access token")
        ax.set_ylabel("Set-Cookie bytes (all chunks)")
        ax.set_title("Cookie size vs permissions")
        ax.legend()
    meta = results["meta"]
    fig.suptitle(
        f"authkit-session benchmarks, {meta['started_at']}: {meta['machine']['cores']} cores "
        f"{meta['machine']['cpu_model']}, Python {meta['machine']['python']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


# --- writing ------------------------------------------------------------------------------------------------------


def users_chart(results: dict[str, Any], path: Path) -> bool:
    """The many-users curve: microseconds per request in process, and the share of bare throughput through
    uvicorn, over N distinct sessions (log scale), per store and order. ``False`` without matplotlib or data."""
    users, http = results.get("users"), results.get("users_http")
    if not users and not http:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5))
    for store, rows in (users or {}).items():
        sizes = [r["sessions"] for r in rows]
        left.plot(sizes, [r["round_robin_mean_us"] for r in rows], marker="o", label=f"{store}, round-robin")
        left.plot(sizes, [r["skewed_mean_us"] for r in rows], marker="x", linestyle="--", label=f"{store}, skewed")
    left.set(xscale="log", yscale="log", xlabel="distinct sessions N", ylabel="us per request (mean)")
    left.set_title("AuthKit.authenticate in process")
    left.legend(fontsize=8)
    for store in ("cookie", "memory", "sqlite"):
        rows = (http or {}).get(store) or []
        if not rows:
            continue
        sizes = [r["sessions"] for r in rows]
        for order, style in (("round_robin", "-"), ("skewed", "--")):
            shares = [100 * (r[order]["share"] or 0) for r in rows]
            right.plot(sizes, shares, marker="o", linestyle=style, label=f"{store}, {order.replace('_', '-')}")
    right.set(xscale="log", ylim=(0, 100), xlabel="distinct sessions N", ylabel="% of bare throughput")
    right.set_title("Through uvicorn (one worker)")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write(results: dict[str, Any], out_dir: Path, docs: Path | None) -> dict[str, Path]:
    """Write ``benchmarks.json``, ``results.md`` and ``chart.png`` to ``out_dir``; update ``docs`` if given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results["targets"] = targets(results)
    paths = {"json": out_dir / "benchmarks.json", "markdown": out_dir / "results.md"}
    paths["json"].write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    table = markdown(results)
    paths["markdown"].write_text("# Benchmark results\n\n" + table + "\n", encoding="utf-8")
    if chart(results, out_dir / "chart.png"):
        paths["chart"] = out_dir / "chart.png"
    if users_chart(results, out_dir / "users.png"):
        paths["users_chart"] = out_dir / "users.png"
    if docs is not None:
        rel = os.path.relpath(out_dir / "chart.png", docs.parent)
        block = f"{START}\n{table}\n![benchmark chart]({rel})\n{END}"
        text = docs.read_text(encoding="utf-8") if docs.exists() else f"# Performance\n\n{START}\n{END}\n"
        if START not in text:
            text += f"\n{START}\n{END}\n"
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        docs.write_text(text, encoding="utf-8")
        paths["docs"] = docs
    return paths
