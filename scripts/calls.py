"""AWS calls per remediation, from the moto end-to-end tests.

The test command runs the moto tests with TRAILGUARD_CALLS_LOG set: every invocation's report
(the operations called to decide, `lookups`, and each action's `calls`, counted by the
interceptor on every SDK client) is appended there as a JSON line.

    python calls.py check LOG    # every remediation within the limit, or an exception below
    python calls.py table LOG    # the Markdown table of BENCHMARKS.md "Calls per remediation"

The limit: each action makes at most one mutating call and at most one read, and no read is
made twice in one invocation (a fact the decision read, still fresh, is handed to an action
that looks before a flag-like change). A document the action rewrites is always read again
right before the write (REWRITTEN). Other exceptions are listed with the reason the extra
call is needed; `check` fails on a
remediation over the limit that is not listed, and on a listed exception no test shows any
more (so the list stays true).
"""

import collections
import json
import sys

READ_PREFIXES = ("Describe", "Get", "List", "Lookup")

# A document the action rewrites (a resource policy, a role's trust) is read right before the
# write, even when the decision read it: the decision's read is taken before the ledger gate,
# where the breaker's slot can wait on concurrent invocations, and a document written from
# it could put back what another remediation took out in the meantime.
REWRITTEN = {
    "restrict_queue_policy", "restrict_topic_policy", "restrict_secret_policy",
    "restrict_key_policy", "restrict_repository_policy", "restrict_domain_policy",
    "restrict_vault_policy", "restrict_file_system_policy", "restrict_role_trust",
}
REWRITTEN_REASON = ("a document it rewrites is read right before the write, not taken from "
                    "the decision's read (which the ledger gate can make stale)")

# (function, action type) -> why it reads more than once, or changes more than once.
EXCEPTIONS = {
    ("revert-security-group", "remove_prefix_list_entries"):
        "two versions of the list are read (now, and before the event's change): only the "
        "entries the event added are removed, never one that was there before",
    ("revert-public-database", "make_db_cluster_private"):
        "a cluster's instances are changed one by one: the cluster is read again for its "
        "members (the decision's read keeps only whether it is public), then each member's "
        "state, then each public one is modified",
    ("protect-encryption-keys", "enable_key_rotation"):
        "the key's CloudTrail history is read for the period to put back (LookupEvents can "
        "take seconds), then the rotation status again right before enabling: enabling over a "
        "rotation someone turned on meanwhile would reset its period",
    ("guard-iam", "(decision)"):
        "a role tagged exempt is read again after a short wait: an exemption taken back while "
        "the change settles (an attacker's tag, removed by the tag's owner) does not count",
}


def is_read(op):
    return op.startswith(READ_PREFIXES)


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def remediations(rows):
    """Enforced remediations in which every mutating action was done: the calls a fresh
    remediation makes (a redelivery's `already_done` only reads)."""
    for r in rows:
        if r.get("decision") != "remediate" or r.get("mode") != "enforce":
            continue
        mutating = [a for a in r.get("actions") or [] if a["mutates"]]
        if mutating and all(a["outcome"] == "done" for a in mutating):
            yield r


def over_limit(r):
    """(action type, why) for each action over the limit in this invocation."""
    out = []
    lookups = r.get("lookups") or []
    for a in r["actions"]:
        reads = [c for c in a["calls"] if is_read(c)]
        writes = [c for c in a["calls"] if not is_read(c)]
        twice = sorted({c for c in reads if c in lookups} | {c for c in reads if reads.count(c) > 1})
        if len(writes) > 1:
            out.append((a["type"], f"{len(writes)} mutating calls ({', '.join(writes)})"))
        if len(reads) > 1:
            out.append((a["type"], f"{len(reads)} reads ({', '.join(reads)})"))
        if twice:
            out.append((a["type"], f"read again after the decision or another read: {', '.join(twice)}"))
    dup = sorted({c for c in lookups if lookups.count(c) > 1})
    if dup:
        out.append(("(decision)", f"the decision reads twice: {', '.join(dup)}"))
    return out


def check(rows):
    failures, seen = [], set()
    n = 0
    for r in remediations(rows):
        n += 1
        for action, why in over_limit(r):
            key = (r["function"], action)
            if action in REWRITTEN:
                seen.add(("*", action))
                continue
            if key in EXCEPTIONS:
                seen.add(key)
                continue
            failures.append(f"{r['function']} {r['event']} ({r['test']}): {action}: {why}")
    stale = sorted(set(EXCEPTIONS) - seen)
    if not any(k[0] == "*" for k in seen):
        stale.append(("*", "the documents rewritten"))
    for f in sorted(set(failures)):
        print(f"FAIL {f}")
    for key in stale:
        print(f"FAIL exception {key} is no longer needed by any test: take it out of scripts/calls.py")
    print(f"{'ok  ' if not failures and not stale else 'FAIL'} calls per remediation: {n} remediations, "
          f"{len(set(failures))} over the limit, {len(seen)} listed exceptions seen")
    return not failures and not stale


def table(rows):
    patterns = collections.OrderedDict()
    for r in sorted(remediations(rows), key=lambda r: (r["function"], r["event"] or "")):
        lookups = ", ".join(r.get("lookups") or []) or "-"
        acts = "; ".join(f"{a['type']}: {', '.join(a['calls']) or '-'}" for a in r["actions"])
        writes = sum(1 for a in r["actions"] for c in a["calls"] if not is_read(c))
        reads = len(r.get("lookups") or []) + sum(1 for a in r["actions"] for c in a["calls"] if is_read(c))
        over = over_limit(r)
        limit = "yes" if not over else "read again: " + "; ".join(sorted({a for a, _ in over}))
        key = (r["function"], r["event"], lookups, acts)
        patterns.setdefault(key, (reads, writes, limit))
    print("| function | event | decision's reads | each action's calls | reads | mutating | within the limit |")
    print("|---|---|---|---|---|---|---|")
    for (fn, ev, lookups, acts), (reads, writes, limit) in patterns.items():
        print(f"| {fn} | `{ev}` | {lookups} | {acts} | {reads} | {writes} | {limit} |")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "table"):
        print(__doc__)
        sys.exit(2)
    rows = load(sys.argv[2])
    if sys.argv[1] == "table":
        table(rows)
    else:
        sys.exit(0 if check(rows) else 1)


if __name__ == "__main__":
    main()
