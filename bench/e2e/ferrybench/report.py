"""bench/results/latest.json (every figure and raw sample) and latest.md (the tables)."""
import json
import os

from ferrybench.plan import LIMIT, display_order

MiB = 1 << 20


def write_json(results_dir, document):
    path = os.path.join(results_dir, "latest.json")
    with open(path + ".tmp", "w") as f:
        json.dump(document, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return path


def _fmt(value, digits=0):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ratio(value):
    return "–" if value is None else f"{value:.0%}"


def markdown(document, configs):
    """The tables (also pasted into docs/benchmarks.md by --update-docs)."""
    lines = []
    load = document["load"]
    lines.append(f"Run {document['date']} ({document['mode']}), commit "
                 f"{(document['git'].get('commit') or '?')[:12]}"
                 f"{' + uncommitted changes' if document['git'].get('uncommitted_changes') else ''}, "
                 f"{document['machine']['cpus']} CPUs ({document['machine']['cpu']}), "
                 f"kernel {document['machine']['kernel']}, {document['machine']['qemu']}, "
                 f"QEMU accelerator {document.get('qemu_accelerator')}; took {document['duration_s']:.0f} s.")
    lines.append("")
    if document.get("interrupted"):
        lines.append("**Interrupted**: these are partial results.")
        lines.append("")
    if load["loaded"]:
        lines.append(f"**Measured on a loaded machine**: {load['note']}. Absolute figures are low "
                     f"and noisy; the ratios (same run, same path) are the meaningful part.")
    else:
        lines.append(f"Machine load: {load['note']}.")
    lines.append("")
    lines.append(f"Runs per configuration: {document['runs_per_configuration']['note']}. "
                 f"Downtime budget {document['settings']['max_downtime_ms']} ms for ferry (max-downtime) "
                 f"and for QEMU unlimited / multifd4 (downtime-limit); bandwidth unlimited except "
                 f"QEMU default (128 MiB/s, 300 ms).")
    lines.append("")
    records = document["configurations"]
    for path in document["paths"]:
        name = path["name"]
        lines.append(f"### Path: {path['description']}")
        lines.append("")
        lines.append("| configuration | runs | total time ms | downtime ms | throughput Mbit/s | "
                     "of raw TCP | rounds | transferred MiB | guest dirty MiB/s | ferry/QEMU time | result |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for c in display_order(configs):
            if c.path != name:
                continue
            r = records[c.key]
            if c.engine == LIMIT:
                lines.append(f"| {c.label} | {r['runs']} | | | {_fmt(r.get('limit_mbps'))} | 100% | | | | | "
                             f"{r['result']} |")
                continue
            vs = r.get("vs_qemu") or {}
            vs_text = (f"{vs['time_ratio']:.2f} (vs {vs['qemu_setting']})" if vs.get("time_ratio") is not None
                       else "–")
            tls = r.get("vs_plain_tcp")
            if tls:
                vs_text = f"{tls['time_ratio']:.2f} of plain TCP's time"
            transferred = r.get("transferred_bytes")
            lines.append(
                f"| {c.label} | {r['runs']} | {_fmt(r.get('total_time_ms'))} | {_fmt(r.get('downtime_ms'))} | "
                f"{_fmt(r.get('throughput_mbps'))} | {_ratio(r.get('ratio_to_limit'))} | "
                f"{_fmt(r.get('rounds'))} | {_fmt(transferred / MiB if transferred else None)} | "
                f"{_fmt(r.get('guest_dirty_rate_mib'))} | {vs_text} | {r['result'].replace('|', '/')} |")
        lines.append("")
    lines.append(f"### Targets of the throughput issue (path: {document['primary_path']})")
    lines.append("")
    lines.append("| target | measured | verdict |")
    lines.append("|---|---|---|")
    for t in document["targets"]:
        verdict = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['value'] or '–'} | {verdict} |")
    lines.append("")
    return "\n".join(lines)


def write_markdown(results_dir, document, configs, plots):
    text = ["# ferry end-to-end benchmark: latest run", "", markdown(document, configs)]
    for path, made in plots.items():
        for kind in ("throughput", "downtime"):
            if made.get(kind):
                text.append(f"![{kind} ({path})]({made[kind]})")
                text.append("")
    path = os.path.join(results_dir, "latest.md")
    with open(path, "w") as f:
        f.write("\n".join(text))
    return path


BEGIN = "<!-- e2e-latest:begin (bench/e2e/run --update-docs rewrites this part) -->"
END = "<!-- e2e-latest:end -->"


def update_docs(docs_path, document, configs):
    """Replaces the marked section of docs/benchmarks.md with this run's tables."""
    with open(docs_path) as f:
        text = f.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise RuntimeError(f"{docs_path}: markers {BEGIN!r} ... {END!r} not found")
    text = text[:start + len(BEGIN)] + "\n" + markdown(document, configs) + "\n" + text[end:]
    with open(docs_path, "w") as f:
        f.write(text)
