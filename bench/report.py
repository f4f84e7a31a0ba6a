"""One table from the three parts' results, and the same figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("ok" if ok else "MISSED")


def _endpoint_rows(label: str, row: dict) -> list[tuple[str, str, str, str, str, str]]:
    """An endpoint against its bare view, against /healthz + 2x its SQL, and (filtered lists) the unfiltered one."""
    same = row["same_sql"] and row["same_bytes"]
    differs = "" if same else (" (SQL differs!)" if not row["same_sql"] else " (bytes differ!)")
    ratio = row["ratio_vs_bare"]
    out = [
        (
            "API",
            f"{label} p50 / p95",
            f"{_ms(row['p50_ms'])} / {_ms(row['p95_ms'])}",
            f"bare view {_ms(row['bare']['p50_ms'])} / {_ms(row['bare']['p95_ms'])}{differs}",
            _ratio(ratio),
            f"<= 1.25x bare {_verdict(ratio <= 1.25 and same)}",
        ),
        (
            "API",
            f"{label} p50 vs /healthz + 2x all its SQL",
            _ms(row["p50_ms"]),
            f"{_ms(row['healthz']['p50_ms'])} + 2 x {_ms(row['floor_all']['p50_ms'])} = {_ms(row['sql_limit_ms'])}",
            _ratio(row["ratio_vs_sql_limit"]),
            f"<= 1x {_verdict(row['ratio_vs_sql_limit'] <= 1)}",
        ),
    ]
    if "unfiltered" in row:
        out.append(
            (
                "API",
                f"{label} p50 vs unfiltered list",
                _ms(row["p50_ms"]),
                f"unfiltered {_ms(row['unfiltered']['p50_ms'])}",
                _ratio(row["ratio_vs_unfiltered"]),
                f"<= 1.2x {_verdict(row['ratio_vs_unfiltered'] <= 1.2)}",
            )
        )
    return out


def rows(results: dict) -> list[tuple[str, str, str, str, str, str]]:
    """(part, measure, value, reference, ratio, goal + verdict) rows."""
    out = []
    api = results.get("api")
    if api:
        gen = api["generation"]
        out.append(
            (
                "API",
                f"generate {gen['drifts']:,} drifts / {gen['resources']:,} resources (COPY)",
                f"{gen['seconds_total']:.1f} s",
                f"drifts COPY {gen['seconds_drifts_copy']:.1f} s",
                "",
                "counters rebuilt" if gen["counters"]["rebuilt"] else "no counter rebuild found",
            )
        )
        out.append(("API", "GET /healthz (HTTP + WSGI, no SQL)", _ms(api["http_floor"]["p50_ms"]), "", "", "reference"))
        for label, row in api["endpoints"].items():
            out.extend(_endpoint_rows(label, row))
        small, large = api["sizes"]["small"][0], api["sizes"]["large"][0]
        for name in ("list", "summary"):
            a, b = api["totals_small"][name], api["totals_large"][name]
            ratio = b["p50_ms"] / a["p50_ms"]
            out.append(
                (
                    "API",
                    f"{'meta.total (list)' if name == 'list' else 'summary'} p50 at {large:,} vs {small:,}",
                    f"{_ms(b['p50_ms'])} vs {_ms(a['p50_ms'])}",
                    f"count SQL {_ms(b['count_sql_ms'])} vs {_ms(a['count_sql_ms'])}",
                    f"{ratio:.2f}x",
                    f"<= 2x {_verdict(ratio <= 2)}",
                )
            )
        tp = api["throughput"]
        out.append(
            (
                "API",
                f"list throughput, {tp['clients']} clients: API vs bare view",
                f"{tp['api']['rps']:.0f} req/s",
                f"bare {tp['bare_view']['rps']:.0f} req/s{'' if tp['same_page'] else ' (pages differ!)'}",
                f"{tp['ratio']:.2f}x",
                f">= 0.9x {_verdict(tp['ratio'] >= 0.9 and tp['same_page'])}",
            )
        )
    engine = results.get("engine")
    if engine:
        small, large = engine["small"], engine["large"]
        for run in (small, large):
            for phase in ("baseline_scan", "drift_scan"):
                p = run.get(phase)
                if not p:
                    continue
                partial = f" (stopped after {p['resources_done']:,})" if p.get("incomplete") else ""
                drifted = " (1% drifted)" if phase == "drift_scan" else ""
                out.append(
                    (
                        "Engine",
                        f"{phase.replace('_', ' ')} {run['resources']:,} resources{drifted}",
                        f"{p['resources_per_s']:,.0f} res/s{partial}",
                        f"peak +{p['peak_rss_delta_mib']:.0f} MiB, {p['seconds']:.1f} s",
                        "",
                        "",
                    )
                )
        naive = small.get("naive")
        if naive and small.get("drift_scan"):
            ratio = small["drift_scan"]["resources_per_s"] / naive["resources_per_s"]
            out.append(
                (
                    "Engine",
                    f"drift scan vs naive (DeepDiff + ORM save), {naive['resources']:,} resources",
                    f"{small['drift_scan']['resources_per_s']:,.0f} res/s",
                    f"naive {naive['resources_per_s']:,.0f} res/s",
                    _ratio(ratio),
                    f">= 10x {_verdict(ratio >= 10)}",
                )
            )
        if small.get("drift_scan") and large.get("drift_scan"):
            a, b = small["drift_scan"]["peak_rss_delta_mib"], large["drift_scan"]["peak_rss_delta_mib"]
            # RSS moves in allocator-sized steps: a few MiB either way is noise, not growth.
            flat = b <= 1.5 * a + 8
            out.append(
                (
                    "Engine",
                    f"drift scan peak memory {large['resources']:,} vs {small['resources']:,}",
                    f"+{b:.0f} MiB vs +{a:.0f} MiB",
                    "incomplete run" if large["drift_scan"].get("incomplete") else "",
                    f"{b - a:+.0f} MiB",
                    f"flat (<= 1.5x + 8 MiB) {_verdict(flat)}",
                )
            )
    scan = results.get("scan")
    if scan:
        s, f = scan["scan"], scan["floor"]
        seed = scan["seed"]
        out.append(
            (
                "Scan",
                f"full scan: {seed['buckets']} buckets, {seed['security_groups']} SGs, {seed['roles']} roles"
                + (f", demo estate x{seed['estate_scale']} (every type)" if seed.get("estate_scale") else ""),
                f"{s['seconds']:.1f} s",
                f"bare boto3 {f['seconds']:.1f} s ({f['threads']} threads)",
                f"{scan['ratio']:.2f}x",
                f"<= 1.3x {_verdict(scan['ratio'] <= 1.3)}",
            )
        )
        out.append(
            (
                "Scan",
                "AWS API calls per resource",
                f"{s['calls_per_resource']:.2f}",
                f"{s['calls']} calls, {s['resources']} resources",
                "",
                "see calls_by_operation",
            )
        )
        for resource_type, figures in s.get("calls_per_resource_by_type", {}).items():
            out.append(
                (
                    "Scan",
                    f"  calls per resource: {resource_type}",
                    f"{figures['per_resource']:.2f}",
                    f"{figures['calls']} calls, {figures['resources']} resources",
                    "",
                    "",
                )
            )
    exported = results.get("export")
    if exported:
        small_n, large_n = exported["sizes"]["small"][0], exported["sizes"]["large"][0]
        for fmt in ("csv", "ndjson"):
            big, little = exported["large"][fmt], exported["small"][fmt]
            ratio = big["ratio_vs_copy"]
            out.append(
                (
                    "Export",
                    f"{fmt} export of {big['rows']:,} drifts (first byte {big['first_byte_seconds']:.2f} s)",
                    f"{big['seconds']:.1f} s",
                    f"COPY same columns {big['copy_seconds']:.1f} s",
                    _ratio(ratio),
                    f"<= 3x {_verdict(ratio <= 3)}",
                )
            )
            # "Flat": the same peak at the large size as at the small one, within a few MiB.
            grew = big["peak_rss_delta_mib"] - little["peak_rss_delta_mib"]
            out.append(
                (
                    "Export",
                    f"{fmt} export peak memory {large_n:,} vs {small_n:,}",
                    f"+{big['peak_rss_delta_mib']:.1f} MiB vs +{little['peak_rss_delta_mib']:.1f} MiB",
                    "",
                    f"{grew:+.1f} MiB",
                    f"flat (<= +5 MiB) {_verdict(grew <= 5)}",
                )
            )
    notify = results.get("notify")
    if notify:
        t, sc = notify["throughput"], notify["scan"]
        out.append(
            (
                "Notify",
                f"dispatch + signed delivery of {t['events']:,} events, 2 workers",
                f"{t['events_per_s']:,.0f} ev/s ({t['total_seconds']:.1f} s)",
                f"bare loop of the same posts {t['bare_per_s']:,.0f}/s",
                _ratio(t["ratio_vs_bare"]),
                f">= 0.7x {_verdict(t['ratio_vs_bare'] >= 0.7 and t['delivered'] == t['events'])}",
            )
        )
        out.append(
            (
                "Notify",
                f"drift scan of {sc['resources']:,} resources, 1% drifted, outbox on vs off",
                f"{sc['seconds_on']:.2f} s",
                f"off {sc['seconds_off']:.2f} s ({sc['new_drifts']} new drifts)",
                f"{sc['overhead']:+.1%}",
                f"<= 5% {_verdict(sc['overhead'] <= 0.05)}",
            )
        )
    return out


def table(results: dict) -> str:
    """The printed table."""
    header = ("part", "measure", "value", "reference / floor", "ratio", "goal")
    body = rows(results)
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    fmt = "| " + " | ".join(f"{{:{'>' if i == 4 else '<'}{w}}}" for i, w in enumerate(widths)) + " |"
    out = [line, fmt.format(*header), line]
    out += [fmt.format(*r) for r in body]
    out.append(line)
    return "\n".join(out)


def write(results: dict, name: str = "latest.json") -> Path:
    """Write the results (and the table's rows) to bench/results/<name>."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps({**results, "table": [list(r) for r in rows(results)]}, indent=2, default=str))
    return path
