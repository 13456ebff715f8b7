"""Which configurations a run measures (full or --quick), and how each is named in the results."""
from dataclasses import dataclass, field

GiB = 1 << 30

LIMIT = "limit"            # iperf3, the raw TCP limit of the path
FERRY_SIM = "ferry-sim"    # ferry moving a simulated guest
QEMU = "qemu"              # QEMU 7.2 moving the test guest itself
FERRY_QEMU = "ferry-qemu"  # ferry moving the same QEMU test guest (agent kind "qemu")
FERRY_SIM_TLS = "ferry-sim-tls"  # ferry moving a simulated guest between agents using mutual TLS
ENGINES = (LIMIT, FERRY_SIM, FERRY_SIM_TLS, QEMU, FERRY_QEMU)
# The QEMU setting a ferry stream count is compared with: one connection against QEMU's single
# unlimited stream, N streams against multifd with N channels.
QEMU_PEER = {1: "unlimited", 4: "multifd4"}


@dataclass(frozen=True)
class Configuration:
    engine: str
    path: str
    memory: int = 0
    dirty_rate_mib: int = 0
    streams: int = 1
    setting: str = ""  # QEMU settings name (qemu_migration.QEMU_SETTINGS)

    @property
    def key(self):
        if self.engine == LIMIT:
            return f"{self.path}/limit/streams{self.streams}"
        tail = f"qemu-{self.setting}" if self.engine == QEMU else f"streams{self.streams}"
        return f"{self.path}/{self.engine}/{size_text(self.memory)}/rate{self.dirty_rate_mib}/{tail}"

    @property
    def label(self):
        """Short, for tables and plot axes."""
        if self.engine == LIMIT:
            return f"raw TCP x{self.streams}"
        what = {FERRY_SIM: "ferry sim", FERRY_SIM_TLS: "ferry sim TLS", FERRY_QEMU: "ferry qemu",
                QEMU: "QEMU"}[self.engine]
        how = self.setting if self.engine == QEMU else f"x{self.streams}"
        return f"{what} {how} {size_text(self.memory)} {self.dirty_rate_mib}MiB/s"

    def to_json(self):
        d = {"engine": self.engine, "path": self.path, "label": self.label}
        if self.engine != LIMIT:
            d.update(memory_bytes=self.memory, dirty_rate_mib=self.dirty_rate_mib)
        if self.engine == QEMU:
            d["qemu_setting"] = self.setting
        else:
            d["streams"] = self.streams
        return d


def display_order(configs):
    """Grouped by engine (limit, ferry sim, QEMU, ferry qemu), then size, rate, streams/setting."""
    settings = ("default", "unlimited", "multifd4")
    return sorted(configs, key=lambda c: (c.path, ENGINES.index(c.engine), c.memory, c.dirty_rate_mib,
                                          c.streams, settings.index(c.setting) if c.setting else 0))


def size_text(memory):
    return f"{memory // GiB}GiB" if memory % GiB == 0 else f"{memory >> 20}MiB"


@dataclass
class Plan:
    configurations: list
    runs: int                 # target repetitions of each configuration
    limit_seconds: int        # length of one iperf3 run
    timeout_s: dict = field(default_factory=dict)  # per-migration timeout by memory size
    max_downtime_ms: int = 300  # ferry's max-downtime and QEMU's downtime-limit (its default)


def make_plan(paths, quick, runs, sizes_gib=None, rates=None, streams=(1, 4), max_downtime_ms=300):
    """Configurations in the order one pass runs them: per path the limits, then per guest size and
    dirty rate each ferry configuration right beside the QEMU setting it is compared with, so that
    a drifting machine load touches both sides of a ratio alike."""
    sizes = [s * GiB for s in (sizes_gib or ([1] if quick else [1, 4]))]
    rates = list(rates if rates is not None else ([0, 100] if quick else [0, 100, 500]))
    configs = []
    for path in paths:
        configs += [Configuration(LIMIT, path, streams=s) for s in streams]
        for memory in sizes:
            for rate in rates:
                settings = ["unlimited", "multifd4", "default"]
                # At its default 128 MiB/s cap QEMU cannot outrun a busy guest; a quick run does
                # not wait for that timeout.
                if quick and rate > 0:
                    settings.remove("default")
                for s in streams:
                    configs.append(Configuration(FERRY_SIM, path, memory, rate, streams=s))
                    if s == 1 and rate == 0:
                        # The cost of encryption: the same move between agents using mutual TLS.
                        configs.append(Configuration(FERRY_SIM_TLS, path, memory, rate, streams=s))
                    peer = QEMU_PEER.get(s)
                    if peer in settings:
                        settings.remove(peer)
                        configs.append(Configuration(QEMU, path, memory, rate, setting=peer))
                    configs.append(Configuration(FERRY_QEMU, path, memory, rate, streams=s))
                configs += [Configuration(QEMU, path, memory, rate, setting=q) for q in settings]
    # Long enough for QEMU's default 128 MiB/s cap to move the guest three times over; a guest that
    # dirties faster than that never converges, and waiting longer only burns the run.
    timeout = {m: max(60, 3 * m // (128 << 20)) for m in sizes}
    return Plan(configs, runs, 3, timeout, max_downtime_ms)
