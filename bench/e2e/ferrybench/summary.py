"""Pure: from raw samples to medians per configuration, ratios, and the throughput issue's targets."""
import statistics

from ferrybench.plan import FERRY_QEMU, FERRY_SIM, FERRY_SIM_TLS, LIMIT, QEMU, QEMU_PEER

GiB = 1 << 30
MEDIAN_FIELDS = ("total_time_ms", "downtime_ms", "throughput_mbps", "transfer_mbps",
                 "transferred_bytes", "rounds", "setup_ms", "guest_dirty_rate_mib")


def median(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    m = statistics.median(values)
    if isinstance(m, float):
        m = round(m, 1)
        return int(m) if m.is_integer() else m
    return m


def summarize(config, entry):
    """entry: {"samples": [...], "skipped": reason or None}. Returns the configuration's record."""
    samples = entry.get("samples", [])
    record = dict(config.to_json())
    record["samples"] = samples
    ok = [s for s in samples if s.get("status") == "completed"]
    record["runs"] = len(ok)
    record["attempts"] = len(samples)
    if entry.get("skipped"):
        record["result"] = f"skipped: {entry['skipped']}"
    elif not samples:
        record["result"] = "skipped: not reached within the time budget"
    elif not ok:
        record["result"] = f"{samples[0].get('status')}: {samples[0].get('error')}"
    else:
        failed = len(samples) - len(ok)
        record["result"] = "ok" if not failed else f"ok in {len(ok)} of {len(samples)} runs"
    if config.engine == LIMIT:
        record["limit_mbps"] = median(s.get("mbps") for s in ok)
    else:
        for name in MEDIAN_FIELDS:
            record[name] = median(s.get(name) for s in ok)
    return record


def add_ratios(records, configs):
    """ferry / limit (same path and stream count) and ferry / QEMU (same path, size, rate)."""
    by_key = {c.key: (c, records[c.key]) for c in configs}
    for config, record in by_key.values():
        if config.engine not in (FERRY_SIM, FERRY_SIM_TLS, FERRY_QEMU) or record.get("throughput_mbps") is None:
            continue
        if config.engine == FERRY_SIM_TLS:
            plain = _find(by_key, lambda c: c.engine == FERRY_SIM and c.path == config.path
                          and c.memory == config.memory and c.dirty_rate_mib == config.dirty_rate_mib
                          and c.streams == config.streams)
            if plain and plain.get("throughput_mbps"):
                record["vs_plain_tcp"] = {
                    "throughput_ratio": round(record["throughput_mbps"] / plain["throughput_mbps"], 3),
                    "time_ratio": round(record["total_time_ms"] / plain["total_time_ms"], 3),
                    "downtime_ms": [record.get("downtime_ms"), plain.get("downtime_ms")]}
        limit = _find(by_key, lambda c: c.engine == LIMIT and c.path == config.path
                      and c.streams == config.streams)
        if limit and limit.get("limit_mbps"):
            record["ratio_to_limit"] = round(record["throughput_mbps"] / limit["limit_mbps"], 3)
        setting = QEMU_PEER.get(config.streams)
        qemu = _find(by_key, lambda c: c.engine == QEMU and c.path == config.path
                     and c.memory == config.memory and c.dirty_rate_mib == config.dirty_rate_mib
                     and c.setting == setting)
        if qemu and qemu.get("total_time_ms"):
            record["vs_qemu"] = {
                "qemu_setting": setting,
                "time_ratio": round(record["total_time_ms"] / qemu["total_time_ms"], 3),
                "downtime_ms": [record.get("downtime_ms"), qemu.get("downtime_ms")],
                "rounds": [record.get("rounds"), qemu.get("rounds")],
            }
        elif qemu:
            record["vs_qemu"] = {"qemu_setting": setting, "qemu_result": qemu.get("result")}


def _find(by_key, predicate):
    for config, record in by_key.values():
        if predicate(config):
            return record
    return None


def find_record(records, configs, **match):
    for c in configs:
        if all(getattr(c, k) == v for k, v in match.items()):
            return records[c.key]
    return None


def targets(records, configs, path):
    """The throughput issue's targets, each met / missed / not measured, with the figures."""
    out = []
    ferry1 = find_record(records, configs, engine=FERRY_SIM, path=path, memory=GiB, dirty_rate_mib=0, streams=1)
    ratio = ferry1.get("ratio_to_limit") if ferry1 else None
    out.append({
        "target": "1 GiB idle guest, 1 stream: ferry throughput >= 90% of raw TCP",
        "value": None if ratio is None else f"{ratio:.0%} ({ferry1['throughput_mbps']} of "
                                              f"{_limit(records, configs, path, 1)} Mbit/s)",
        "met": None if ratio is None else ratio >= 0.9})
    for rate in (0, 100):
        for streams, setting in QEMU_PEER.items():
            ferry = find_record(records, configs, engine=FERRY_SIM, path=path, memory=GiB,
                            dirty_rate_mib=rate, streams=streams)
            qemu = find_record(records, configs, engine=QEMU, path=path, memory=GiB, dirty_rate_mib=rate,
                           setting=setting)
            out.append(_half_time(ferry, qemu, rate, streams, setting))
    for streams, setting in QEMU_PEER.items():
        ferry = find_record(records, configs, engine=FERRY_SIM, path=path, memory=GiB, dirty_rate_mib=100,
                        streams=streams)
        qemu = find_record(records, configs, engine=QEMU, path=path, memory=GiB, dirty_rate_mib=100,
                       setting=setting)
        out.append(_busy_guest(ferry, qemu, streams, setting))
    return out


def _limit(records, configs, path, streams):
    r = find_record(records, configs, engine=LIMIT, path=path, streams=streams)
    return r.get("limit_mbps") if r else None


def _half_time(ferry, qemu, rate, streams, setting):
    name = (f"1 GiB guest at {rate} MiB/s: ferry x{streams} total time <= 1/2 of QEMU {setting}, "
            f"downtime no worse")
    if not ferry or not qemu or ferry.get("total_time_ms") is None or qemu.get("total_time_ms") is None:
        return {"target": name, "value": _missing(ferry, qemu), "met": None}
    ratio = ferry["total_time_ms"] / qemu["total_time_ms"]
    downtime_ok = ferry["downtime_ms"] <= qemu["downtime_ms"]
    return {"target": name,
            "value": f"time {ferry['total_time_ms']} vs {qemu['total_time_ms']} ms ({ratio:.2f}x); "
                     f"downtime {ferry['downtime_ms']} vs {qemu['downtime_ms']} ms",
            "met": ratio <= 0.5 and downtime_ok}


def _busy_guest(ferry, qemu, streams, setting):
    name = f"1 GiB guest at 100 MiB/s, ferry x{streams}: downtime < 100 ms and fewer rounds than QEMU {setting}"
    if not ferry or ferry.get("downtime_ms") is None:
        return {"target": name, "value": _missing(ferry, qemu), "met": None}
    qemu_rounds = qemu.get("rounds") if qemu else None
    value = f"downtime {ferry['downtime_ms']} ms; rounds {ferry['rounds']} vs QEMU {qemu_rounds}"
    if qemu_rounds is None:
        return {"target": name, "value": value + " (QEMU not measured)",
                "met": False if ferry["downtime_ms"] >= 100 else None}
    return {"target": name, "value": value,
            "met": ferry["downtime_ms"] < 100 and ferry["rounds"] < qemu_rounds}


def _missing(ferry, qemu):
    parts = []
    for what, record in (("ferry", ferry), ("QEMU", qemu)):
        if not record:
            parts.append(f"{what} not in this run")
        elif record.get("result") != "ok" and not str(record.get("result", "")).startswith("ok"):
            parts.append(f"{what}: {record.get('result')}")
    return "; ".join(parts) or "not measured"
