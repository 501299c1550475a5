"""The size distribution of the records of a CloudTrail archive, as gen_cloudtrail.py prints
it for --shape realistic: the count, mean, p50, p90, p99 and max bytes of a record as written
in its file, and the share of records above 4 KB. Reads log files (.json or .json.gz) of
{"Records": [...]}, given as files or directories (read recursively).

    python corpus_stats.py ARCHIVE [ARCHIVE...]
"""

import gzip
import json
import os
import sys

from gen_cloudtrail import size_distribution


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for d, _, names in sorted(os.walk(p)):
                for n in sorted(names):
                    if n.endswith((".json", ".json.gz")):
                        yield os.path.join(d, n)
        else:
            yield p


def record_sizes(data):
    """The bytes of each record of one log file, as written (separators and all)."""
    text = data.decode("utf-8")
    dec = json.JSONDecoder()
    i = text.index("[", text.index('"Records"')) + 1
    ascii_only = text.isascii()
    out = []
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "]":
            return out
        _, end = dec.raw_decode(text, i)
        out.append(end - i if ascii_only else len(text[i:end].encode("utf-8")))
        i = end


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sizes, n_files, n_bytes = [], 0, 0
    for f in files(sys.argv[1:]):
        with open(f, "rb") as fh:
            data = fh.read()
        if f.endswith(".gz"):
            data = gzip.decompress(data)
        sizes += record_sizes(data)
        n_files += 1
        n_bytes += len(data)
    print(json.dumps({"files": n_files, "records": len(sizes), "bytes": n_bytes,
                      "bytes_per_record": round(n_bytes / max(len(sizes), 1)), "record_bytes": size_distribution(sizes)}))


if __name__ == "__main__":
    main()
