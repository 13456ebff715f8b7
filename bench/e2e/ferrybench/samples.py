"""One measured migration, in the same units whatever the engine (ferry or QEMU)."""


def migration_sample(total_time_ms, downtime_ms, transferred_bytes, transfer_mbps, rounds, setup_ms,
                     wall_s, extra=None):
    """throughput_mbps is end to end: bytes on the wire over the whole migration time (setup and
    downtime included), so engines that spend their time differently stay comparable.
    transfer_mbps is the engine's own figure for its transfer phase."""
    sample = {
        "status": "completed",
        "total_time_ms": total_time_ms,
        "downtime_ms": downtime_ms,
        "transferred_bytes": transferred_bytes,
        "throughput_mbps": (transferred_bytes * 8 / total_time_ms / 1000
                            if total_time_ms and transferred_bytes else None),
        "transfer_mbps": round(transfer_mbps, 1) if transfer_mbps is not None else None,
        "rounds": rounds,
        "setup_ms": setup_ms,
        "wall_s": round(wall_s, 3),
    }
    if sample["throughput_mbps"] is not None:
        sample["throughput_mbps"] = round(sample["throughput_mbps"], 1)
    sample.update(extra or {})
    return sample
