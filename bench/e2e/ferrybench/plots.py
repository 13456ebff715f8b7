"""PNG plots with gnuplot: throughput per configuration, downtime versus guest dirty rate."""
import os
import shutil
import subprocess
import tempfile

from ferrybench.plan import FERRY_QEMU, FERRY_SIM, FERRY_SIM_TLS, LIMIT, QEMU, display_order, size_text

COLORS = {LIMIT: "#555555", FERRY_SIM: "#1f77b4", FERRY_SIM_TLS: "#9467bd", FERRY_QEMU: "#2ca02c",
          QEMU: "#d62728"}
# Line colours of the downtime plot: blues/greens for ferry, reds/browns for QEMU.
SERIES_COLORS = {FERRY_SIM: ["#1f77b4", "#17becf", "#393b79", "#6baed6"],
                 FERRY_SIM_TLS: ["#9467bd", "#c5b0d5"],
                 FERRY_QEMU: ["#2ca02c", "#98df8a", "#006d2c", "#74c476"],
                 QEMU: ["#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"]}


def _terminal():
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    listing = r.stdout + r.stderr
    return "pngcairo" if "pngcairo" in listing else "png"


def _quote(text):
    return "'" + text.replace("'", "''") + "'"


def _title(what, path, load_label):
    return f"{what} ({path})" + (f"\\n{load_label}" if load_label else "")


def plot_path(results_dir, path, configs, records, load_label, budget_ms):
    """Writes throughput-<path>.png and downtime-<path>.png; returns their file names (or errors)."""
    if shutil.which("gnuplot") is None:
        return {"error": "gnuplot is not installed (apt-get install gnuplot-nox)"}
    terminal = _terminal()
    made = {}
    with tempfile.TemporaryDirectory(prefix="ferry-bench-plot-") as tmp:
        bars = [(c, records[c.key]) for c in display_order(configs) if c.path == path]
        bars = [(c, r) for c, r in bars
                if (r.get("limit_mbps") if c.engine == LIMIT else r.get("throughput_mbps")) is not None]
        if bars:
            name = f"throughput-{path}.png"
            made["throughput"] = name
            _throughput(os.path.join(results_dir, name), tmp, terminal, path, bars, load_label)
        series = _downtime_series(path, configs, records)
        if series:
            name = f"downtime-{path}.png"
            made["downtime"] = name
            _downtime(os.path.join(results_dir, name), tmp, terminal, path, series, load_label,
                      budget_ms)
    return made


def _throughput(out, tmp, terminal, path, bars, load_label):
    data = os.path.join(tmp, "throughput.dat")
    with open(data, "w") as f:
        for i, (c, r) in enumerate(bars):
            value = r["limit_mbps"] if c.engine == LIMIT else r["throughput_mbps"]
            color = int(COLORS[c.engine][1:], 16)
            f.write(f"{i} {value} {color} \"{c.label}\"\n")
    script = f"""
set terminal {terminal} size {max(900, 60 * len(bars) + 200)},700
set output {_quote(out)}
set title "{_title('Throughput, median of runs, Mbit/s (raw TCP = iperf3; migrations end to end)', path, load_label)}"
set ylabel "Mbit/s"
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by -40 left font ",9" nomirror
set grid ytics
set yrange [0:*]
set xrange [-0.6:{len(bars) - 0.4}]
set bmargin 12
set rmargin 12
unset key
plot {_quote(data)} using 1:2:3:xtic(4) with boxes lc rgb variable, \\
     '' using 1:2:(sprintf("%.0f", $2)) with labels offset 0,0.7 font ",8"
"""
    _run(script, tmp)


def _downtime_series(path, configs, records):
    groups = {}
    for c in configs:
        if c.path != path or c.engine == LIMIT:
            continue
        r = records[c.key]
        if r.get("downtime_ms") is None:
            continue
        how = c.setting if c.engine == QEMU else f"x{c.streams}"
        name = {FERRY_SIM: "ferry sim", FERRY_SIM_TLS: "ferry sim TLS", FERRY_QEMU: "ferry qemu",
                QEMU: "QEMU"}[c.engine]
        groups.setdefault((c.engine, f"{name} {how} {size_text(c.memory)}"), []).append(
            (c.dirty_rate_mib, r["downtime_ms"]))
    return {k: sorted(v) for k, v in groups.items()}


def _downtime(out, tmp, terminal, path, series, load_label, budget_ms):
    plots = []
    used = {}
    top = max([budget_ms] + [d for points in series.values() for _, d in points]) * 1.12
    for i, ((engine, title), points) in enumerate(sorted(series.items())):
        data = os.path.join(tmp, f"downtime{i}.dat")
        with open(data, "w") as f:
            for rate, downtime in points:
                f.write(f"{rate} {downtime}\n")
        palette = SERIES_COLORS[engine]
        color = palette[used.get(engine, 0) % len(palette)]
        used[engine] = used.get(engine, 0) + 1
        dash = 2 if engine == QEMU else 1
        plots.append(f"{_quote(data)} using 1:2 with linespoints lw 2 pt {i % 10 + 1} dt {dash} "
                     f"lc rgb '{color}' title {_quote(title)}")
    script = f"""
set terminal {terminal} size 1000,650
set output {_quote(out)}
set title "{_title('Downtime versus guest dirty rate (median of runs)', path, load_label)}"
set xlabel "guest dirty rate, MiB/s"
set ylabel "downtime, ms"
set grid
set key outside right top font ",9"
set xrange [-20:*]
set yrange [0:{top:.0f}]
set arrow from graph 0, first 100 to graph 1, first 100 nohead dt 3 lc rgb "#444444"
set label "target 100 ms at 100 MiB/s" at graph 0.01, first 100 offset 0,0.6 font ",8"
set arrow from graph 0, first {budget_ms} to graph 1, first {budget_ms} nohead dt 4 lc rgb "#999999"
set label "downtime budget {budget_ms} ms" at graph 0.01, first {budget_ms} offset 0,0.6 font ",8"
plot {", ".join(plots)}
"""
    _run(script, tmp)


def _run(script, tmp):
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"gnuplot {path} failed: {r.stderr.strip()[-400:]}")
