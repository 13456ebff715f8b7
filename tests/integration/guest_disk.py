"""Checks the disk the ferry test guest wrote (tests/guest, boot option disk=1); not a test itself.

The guest writes sequence-numbered sectors over an area of its first IDE disk, in LBA order,
wrapping: sequence number n (1, 2, ...) goes to LBA start + (n - 1) % sectors, and its 512 bytes
are a function of (boot id, n, LBA) (the format is in tests/guest/disk_sector.h). Its serial
command "d" reports the last sequence number written and flushed ("DISK ... flushed=F").

check_image(source, flushed=F) then says whether the disk holds what the guest wrote: every
position of the area holds, for the sequence numbers that went there, the latest one up to F or
a later one (a write after the last flush the test knows of), intact; nothing older (a lost
write: a gap in the sequence), nothing torn, misplaced or duplicated. For an exact check stop the
writer first ("dr 0"): its reply and a following "d" then have written == flushed, and
check_image(..., flushed=F, written=F) also refuses anything beyond F.

    from guest_disk import check_image, parse_status
    status = parse_status(line)              # "DISK state=on ... flushed=123 ..." -> dict
    result = check_image("disk.img", flushed=status["flushed"], written=status["written"])
    assert result.ok, result.report()

Command line: python3 guest_disk.py IMAGE --flushed N [--written N] [--boot-id N]
              [--start LBA --sectors N] [--first-lba LBA]; exit status 0 OK, 1 FAIL, 2 usage.
"""
import argparse
import struct
import sys
from dataclasses import dataclass, field

SECTOR = 512
WORDS = SECTOR // 4
HEADER_WORDS = 8
MAGIC = 0x4B534446  # "FDSK"
FORMAT_VERSION = 1
MASK = 0xFFFFFFFF
# The guest flushes after every write batch of at most this many sectors (DISK_MAX_BATCH): past
# the last flush, at most one batch can be missing.
UNFLUSHED_WINDOW = 128
_SECTOR_FORMAT = struct.Struct(f"<{WORDS}I")
_HEADER_FORMAT = struct.Struct(f"<{HEADER_WORDS}I")


def _body_start(boot_id, seq, lba):
    v = (boot_id ^ ((lba * 0x9E3779B1) & MASK) ^ (((seq & MASK) * 0x85EBCA77) & MASK)
         ^ (((seq >> 32) * 0xC2B2AE3D) & MASK))
    v ^= v >> 15
    v = (v * 0x2C1B3C6D) & MASK
    v ^= v >> 12
    return v or 0x6A09E667  # xorshift needs a non-zero state


def sector_lba(seq, start_lba, area_sectors):
    """The LBA sequence number `seq` (>= 1) goes to."""
    return start_lba + (seq - 1) % area_sectors


def latest_seq(position, last, area_sectors):
    """The highest sequence number <= `last` that goes to area position `position`; 0 if none."""
    if last <= 0:
        return 0
    head = (last - 1) % area_sectors
    base = last - 1 - head
    if position <= head:
        return base + position + 1
    return base - area_sectors + position + 1 if base >= area_sectors else 0


def sector_words(boot_id, seq, start_lba, area_sectors):
    """The 128 words the guest writes as sequence number `seq`."""
    lba = sector_lba(seq, start_lba, area_sectors)
    words = [MAGIC, seq & MASK, seq >> 32, lba, boot_id, start_lba, area_sectors, FORMAT_VERSION]
    v = _body_start(boot_id, seq, lba)
    for _ in range(WORDS - HEADER_WORDS):
        v ^= (v << 13) & MASK
        v ^= v >> 17
        v ^= (v << 5) & MASK
        words.append(v)
    return words


def sector_bytes(boot_id, seq, start_lba, area_sectors):
    """The exact 512 bytes the guest writes as sequence number `seq`."""
    return _SECTOR_FORMAT.pack(*sector_words(boot_id, seq, start_lba, area_sectors))


def parse_status(line):
    """The fields of a "DISK ..." (or "DRATE ...", "DVERIFY ...") line: numbers as int."""
    fields = {}
    words = line.split()
    if len(words) > 1 and words[0] == "DVERIFY" and "=" not in words[1]:
        fields["result"] = words[1]  # OK / FAIL
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            continue
        try:
            fields[key] = int(value, 0)
        except ValueError:
            fields[key] = value
    return fields


@dataclass
class DiskCheck:
    """What check_image found. `problems` lists the first few, `counts` counts every kind."""
    ok: bool = False
    boot_id: int = None
    start_lba: int = None
    area_sectors: int = None
    flushed: int = 0
    written: int = None
    lowest_seq: int = 0   # the sequence numbers of this boot found intact
    highest_seq: int = 0
    intact: int = 0       # sectors of this boot found intact
    unflushed: int = 0    # of them, sequence numbers above `flushed`
    problems: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    def problem(self, kind, text, limit):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.problems) < limit:
            self.problems.append(f"{kind}: {text}")

    def report(self):
        area = (f"LBA {self.start_lba}..{self.start_lba + self.area_sectors - 1}"
                if self.area_sectors else "no area")
        head = (f"{'OK' if self.ok else 'FAIL'}: boot id {self.boot_id}, {area}, "
                f"flushed {self.flushed}"
                f"{'' if self.written is None else f', written {self.written}'}; "
                f"{self.intact} intact sectors holding {self.lowest_seq}..{self.highest_seq}"
                f" ({self.unflushed} beyond flushed)")
        if self.ok:
            return head
        total = sum(self.counts.values())
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        more = total - len(self.problems)
        lines = [head + f"; {total} problem(s) ({kinds})"] + ["  " + p for p in self.problems]
        return "\n".join(lines + ([f"  ... and {more} more"] if more > 0 else []))


def _load(source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return memoryview(source).cast("B")
    with open(source, "rb") as f:
        return memoryview(f.read())


def _header(data, lba, first_lba):
    offset = (lba - first_lba) * SECTOR
    if offset < 0 or offset + SECTOR > len(data):
        return None
    return _HEADER_FORMAT.unpack_from(data, offset)


def _infer_area(data, first_lba):
    """(start, sectors) from the first sector that carries the magic and its own LBA."""
    for index in range(len(data) // SECTOR):
        words = _HEADER_FORMAT.unpack_from(data, index * SECTOR)
        lba = first_lba + index
        if (words[0] == MAGIC and words[3] == lba and words[6] > 0
                and words[5] <= lba < words[5] + words[6]):
            return words[5], words[6]
    return None


def check_image(source, flushed, written=None, boot_id=None, start_lba=None, area_sectors=None,
                first_lba=0, unflushed_window=UNFLUSHED_WINDOW, max_problems=20):
    """Checks the guest's sequence on a disk image.

    source: a path to a raw image, or its bytes (a LUN or file read through libiscsi/libnfs);
        `first_lba` is the LBA of its first byte (0: the whole disk from the start).
    flushed: the last sequence number the guest reported flushed (DISK ... flushed=): all of it
        must be there. written: when given, the most it wrote (after "dr 0": equal to flushed);
        anything beyond is an error. Without it, later sequence numbers are welcome, but the
        disk must hold the write stream without a gap up to the highest one found, but for its
        last `unflushed_window` numbers (the guest flushes after each batch of at most 128).
    boot_id, start_lba, area_sectors: what the guest printed (DISK id= start= sectors=); by
        default taken from the image (the area from the first of the guest's sectors, the boot
        id from the highest sequence number found).
    Returns a DiskCheck; .ok and .report().
    """
    data = _load(source)
    result = DiskCheck(flushed=flushed, written=written)
    if written is not None and written < flushed:
        raise ValueError(f"written ({written}) is below flushed ({flushed})")
    if start_lba is None or area_sectors is None:
        inferred = _infer_area(data, first_lba)
        if inferred is None:
            result.start_lba, result.area_sectors = start_lba, area_sectors
            if flushed > 0:
                result.problem("missing", f"no sector written by the guest in the image, but "
                               f"sequence numbers up to {flushed} were flushed", max_problems)
            result.ok = not result.problems
            return result
        start_lba = inferred[0] if start_lba is None else start_lba
        area_sectors = inferred[1] if area_sectors is None else area_sectors
    result.start_lba, result.area_sectors = start_lba, area_sectors
    end_lba = start_lba + area_sectors
    if start_lba < first_lba or (end_lba - first_lba) * SECTOR > len(data):
        raise ValueError(f"the area LBA {start_lba}..{end_lba - 1} is not inside the image "
                         f"(LBA {first_lba}..{first_lba + len(data) // SECTOR - 1})")

    headers = [_header(data, lba, first_lba) for lba in range(start_lba, end_lba)]
    if boot_id is None:
        ours = [(h[1] | h[2] << 32, h[4]) for h in headers if h[0] == MAGIC]
        boot_id = max(ours)[1] if ours else None
    result.boot_id = boot_id

    seen = {}  # seq -> LBA of the first sector that claims it
    found = [None] * area_sectors  # position -> intact sequence number of this boot
    damaged = [False] * area_sectors
    for position, words in enumerate(headers):
        lba = start_lba + position
        offset = (lba - first_lba) * SECTOR
        where = f"LBA {lba} (byte {offset})"
        if words[0] != MAGIC or words[4] != boot_id:
            continue  # not this boot's: judged below, by whether something should be there
        damaged[position] = True
        seq = words[1] | words[2] << 32
        if seq in seen:
            result.problem("duplicate", f"{where}: sequence {seq} also at LBA {seen[seq]}",
                           max_problems)
            continue
        seen[seq] = lba
        if seq == 0 or words[3] != lba or sector_lba(seq, start_lba, area_sectors) != lba:
            home = sector_lba(seq, start_lba, area_sectors) if seq else "-"
            result.problem("misplaced", f"{where}: holds sequence {seq} for LBA {words[3]} "
                           f"(sequence {seq} belongs at LBA {home})", max_problems)
            continue
        if (words[5], words[6], words[7]) != (start_lba, area_sectors, FORMAT_VERSION):
            result.problem("misplaced", f"{where}: sequence {seq} says area start {words[5]}, "
                           f"{words[6]} sectors, format {words[7]}; expected {start_lba}, "
                           f"{area_sectors}, {FORMAT_VERSION}", max_problems)
            continue
        actual = _SECTOR_FORMAT.unpack_from(data, offset)
        expected = sector_words(boot_id, seq, start_lba, area_sectors)
        if actual != tuple(expected):
            word = next(j for j in range(WORDS) if actual[j] != expected[j])
            result.problem("torn", f"{where}: sequence {seq} differs from word {word} on "
                           f"(expected {expected[word]:#010x}, found {actual[word]:#010x})",
                           max_problems)
            continue
        damaged[position] = False
        found[position] = seq

    intact = [seq for seq in found if seq is not None]
    result.intact = len(intact)
    result.highest_seq = max(intact, default=0)
    result.lowest_seq = min(intact, default=0)
    result.unflushed = sum(seq > flushed for seq in intact)
    # The disk must hold the guest's write stream up to some point `top`: at least everything
    # flushed; only the last `unflushed_window` numbers (one write batch, flushed after it) may
    # be missing, their position then holding the previous lap.
    top = max(result.highest_seq, flushed)
    settled = max(flushed, top - unflushed_window)
    for position in range(area_sectors):
        lba = start_lba + position
        where = f"LBA {lba} (byte {(lba - first_lba) * SECTOR})"
        want = latest_seq(position, top, area_sectors)
        older = want - area_sectors if want > settled else want
        have = found[position]
        if written is not None and have is not None and have > written:
            result.problem("beyond", f"{where}: holds sequence {have}, but the guest wrote only "
                           f"up to {written}", max_problems)
        elif have == want or (have is not None and have == older):
            continue
        elif have is None:
            if older <= 0 or damaged[position]:
                continue  # nothing due there yet, or reported above
            offset = (lba - first_lba) * SECTOR
            words = headers[position]
            what = ("zeros" if not any(data[offset:offset + SECTOR]) else
                    f"a sector of boot {words[4]}" if words[0] == MAGIC else
                    f"no magic (first word {words[0]:#010x})")
            result.problem("missing", f"{where}: expected sequence {want}, found {what}",
                           max_problems)
        else:
            alternative = f" or {older} (the last batch may be unflushed)" if older != want else ""
            result.problem("lost", f"{where}: holds sequence {have}, expected {want}{alternative}: "
                           f"a lost write, a gap in the sequence", max_problems)
    result.ok = not result.counts
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description="Check the ferry test guest's disk sequence.")
    parser.add_argument("image")
    parser.add_argument("--flushed", type=int, required=True)
    parser.add_argument("--written", type=int)
    parser.add_argument("--boot-id", type=int)
    parser.add_argument("--start", type=int)
    parser.add_argument("--sectors", type=int)
    parser.add_argument("--first-lba", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        result = check_image(args.image, args.flushed, args.written, args.boot_id, args.start,
                             args.sectors, args.first_lba)
    except (OSError, ValueError) as e:
        print(f"guest_disk.py: {args.image}: {e}", file=sys.stderr)
        return 2
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
