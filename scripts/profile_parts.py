#!/usr/bin/env python3
"""What each part of a backtest costs per record, from a profile: reads `perf script`'s
samples (taken with call graphs, `perf record --call-graph dwarf`, of a binary built with
the `profiling` profile, which keeps symbols) and puts each sample in the part its stack is
in, the innermost part first:

- deciding: a record a rule could deliver, parsed whole (serde_json to a Value, the typed
  record) and decided by the guards, and counted in the summary;
- prefilter: the rules weakened to a dozen fields, matched on every record;
- scanning: the quick reader walking each record for those fields and jumping over the rest;
- reading: the file read (the kernel's copy), decompression (libdeflate for a whole file,
  flate2 streaming), the read buffer;
- other: start-up, threads, the scanner's own loop, the summary's merge.

    perf record -e cpu-clock -F 1000 --call-graph dwarf,16384 -o perf.data \\
        target/profiling/trailguard backtest --quiet --json --jobs 1 ARCHIVE
    perf script -i perf.data | python3 scripts/profile_parts.py --records N --seconds S

With --records (the summary's record count) and --seconds (the run's wall time), each part
is also given in nanoseconds per record.
"""
import argparse
import sys

# (part, markers): a frame whose symbol contains a marker is in that part. Checked from the
# sample's innermost frame outwards; the first part found wins.
PARTS = [
    ("deciding", ["trailguard_backtest::engine::Engine::decide"]),
    ("prefilter", ["trailguard_rules::prefilter::Prefilter::candidates"]),
    ("scanning", ["trailguard_backtest::quick::", "trailguard_backtest::skip::"]),
    ("reading", ["trailguard_backtest::scan::Buf", "ksys_read", "vfs_read", "zlib_rs::",
                 "flate2::", "libdeflate", "deflate_decompress", "trailguard_backtest::gunzip::", "std::fs::", "<std::io::buffered"]),
]


def part_of(frames):
    for f in frames:
        for part, markers in PARTS:
            if any(m in f for m in markers):
                return part
    return "other"


def samples(lines):
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line.startswith((" ", "\t")):
            parts = line.strip().split(" ", 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
    if frames:
        yield frames


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int)
    ap.add_argument("--seconds", type=float)
    a = ap.parse_args()
    counts = {p: 0 for p, _ in PARTS}
    counts["other"] = 0
    total = 0
    for frames in samples(sys.stdin):
        counts[part_of(frames)] += 1
        total += 1
    if not total:
        sys.exit("no samples on standard input (perf script's output)")
    print("| part | share of the time | per record |")
    print("|---|---|---|")
    for part, n in counts.items():
        share = n / total
        per = ""
        if a.records and a.seconds:
            per = f"{share * a.seconds / a.records * 1e9:,.0f} ns"
        print(f"| {part} | {100 * share:.1f} % | {per} |")
    print(f"\n{total} samples")


if __name__ == "__main__":
    main()
