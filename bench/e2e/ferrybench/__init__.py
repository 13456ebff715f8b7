"""ferry's end-to-end benchmark: ferry vs the raw TCP limit vs QEMU's own migration (bench/e2e/run)."""
