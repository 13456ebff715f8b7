"""Progress lines on stdout, time-stamped, flushed at once (the run is long and often piped)."""
import sys
import time


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stdout, flush=True)
