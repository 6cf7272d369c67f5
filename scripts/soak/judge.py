#!/usr/bin/env python3
"""The soak's verdict (scripts/soak.sh gathers the figures, this judges them): prints the
report and exits 1 if any check fails. Python standard library only.

Checks:
- alive: the daemon was running when the traffic stopped;
- clean exit: SIGTERM ended it with status 0;
- no panic: no panic, abort or allocation failure in its log;
- legitimate traffic: every request that nginx answered with 200 is counted in the store's
  inventory (the marker host's endpoints), no more and no fewer, and there were some;
- hostile traffic: the interface carried at least one whole replay of the hostile capture;
- flat memory: after the warm-up (the first fifth of the run, at least 15 s), the largest RSS
  of the second half is at most GROWTH_SHARE above the largest of the first half, or
  GROWTH_FLOOR_MIB, whichever is more; and it stays under the cap;
- limits hit: each counter in LIMITS moved (the floods reached the parsers' limits).
"""
import argparse
import re
import sys

GROWTH_SHARE = 0.10
GROWTH_FLOOR_MIB = 16
PANIC = re.compile(r"panicked at|fatal runtime error|memory allocation of .* failed|stack overflow|Aborted|SIGSEGV")

# (what it proves, metric name, labels that must match, or None for an unlabelled series).
LIMITS = [
    ("flow table full (half-open flood)", "apitap_flows_evicted_total", None),
    ("out-of-order segments per direction (holes)", "apitap_reassembly_buffer_limit_hits_total", None),
    ("tunnel depth", "apitap_stage_events_total", {"stage": "decode", "counter": "depth_limit"}),
    ("fragment table full", "apitap_stage_events_total", {"stage": "decode", "counter": "fragments_evicted_datagram_limit"}),
    ("content detection buffer (random bytes)", "apitap_stage_events_total", {"stage": "app", "counter": "detect_overflow_bytes"}),
    ("HTTP head size (giant headers)", "apitap_stage_events_total", {"stage": "http", "counter": "header_limit_hits"}),
    ("HTTP header count", "apitap_stage_events_total", {"stage": "http", "counter": "header_count_limit_hits"}),
    ("decompression (bombs)", "apitap_stage_events_total", {"stage": "http", "counter": "decode_limit_hits"}),
    ("HTTP/2 rapid reset", "apitap_stage_events_total", {"stage": "http2", "counter": "rapid_resets"}),
    ("HTTP/2 CONTINUATION flood", "apitap_stage_events_total", {"stage": "http2", "counter": "continuation_floods"}),
    ("HTTP/2 SETTINGS flood", "apitap_stage_events_total", {"stage": "http2", "counter": "settings_floods"}),
    ("HTTP/2 PING flood", "apitap_stage_events_total", {"stage": "http2", "counter": "ping_floods"}),
]


def metrics(path):
    """{(name, frozenset(labels)): value} of a Prometheus text page."""
    out = {}
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return out
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
    for line in text.splitlines():
        m = line_re.match(line)
        if not m or line.startswith("#"):
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            pass
    return out


def total(ms, name, want=None):
    return sum(v for (n, labels), v in ms.items() if n == name and (want is None or set(want.items()) <= set(labels)))


def main():
    p = argparse.ArgumentParser()
    for arg in ("seconds", "cap", "alive", "status", "sent", "parsed", "cgroup-peak", "frames"):
        p.add_argument("--" + arg, type=int, required=True)
    for arg in ("cap-kind", "samples", "metrics", "log"):
        p.add_argument("--" + arg, required=True)
    a = p.parse_args()
    failures = []

    def check(ok, what):
        print(("  ok    " if ok else "  FAIL  ") + what)
        if not ok:
            failures.append(what)

    samples = []
    for line in open(a.samples, encoding="utf-8"):
        t, rss_kib, usage = (int(x or 0) for x in line.split("\t"))
        if rss_kib > 0:
            samples.append((t, rss_kib << 10, usage))
    ms = metrics(a.metrics)
    log = open(a.log, encoding="utf-8", errors="replace").read()
    mib = 1 << 20

    print(f"soak report: {a.seconds} s, memory cap {a.cap // mib} MiB ({a.cap_kind})")
    packets = total(ms, "apitap_capture_packets_total")
    dropped = total(ms, "apitap_capture_kernel_dropped_packets_total")
    print(f"  packets captured {packets:.0f}, kernel drops {dropped:.0f}, hostile capture {a.frames} frames;"
          f" HTTP transactions {total(ms, 'apitap_http_transactions_total'):.0f}; flows evicted"
          f" {total(ms, 'apitap_flows_evicted_total'):.0f}; worker queue drops {total(ms, 'apitap_worker_queue_drops_total'):.0f}")
    check(a.alive == 1, "the daemon was alive when the traffic stopped")
    check(a.alive == 1 and a.status == 0, f"SIGTERM ended it cleanly (exit status {a.status})")
    panics = [l for l in log.splitlines() if PANIC.search(l)]
    check(not panics, "no panic or abort in its log" + (f": {panics[0][:200]}" if panics else ""))
    check(a.sent > 0 and a.parsed == a.sent, f"every legitimate request parsed: {a.parsed} in the inventory of {a.sent} answered")
    check(packets + dropped >= a.frames, f"at least one whole replay of the hostile capture reached the interface ({packets + dropped:.0f} packets)")

    warm = max(15, a.seconds // 5)
    after = [s for s in samples if s[0] >= warm]
    if len(after) >= 4:
        mid = (after[0][0] + after[-1][0]) / 2
        first = max(s[1] for s in after if s[0] <= mid)
        second = max(s[1] for s in after if s[0] > mid)
        allowed = max(first * GROWTH_SHARE, GROWTH_FLOOR_MIB * mib)
        print(f"  RSS (MiB) from {warm} s: first half max {first / mib:.1f}, second half max {second / mib:.1f};"
              f" peak of the run {max(s[1] for s in samples) / mib:.1f}; cgroup peak {a.cgroup_peak / mib:.1f}")
        check(second <= first + allowed, f"memory flat: second half's max within {allowed / mib:.1f} MiB of the first's")
    else:
        check(False, f"memory flat: too few samples after the warm-up ({len(after)})")
    peak = max([s[1] for s in samples] + [a.cgroup_peak, 0])
    check(0 < peak < a.cap, f"memory under the cap ({peak / mib:.1f} of {a.cap // mib} MiB)")
    for what, name, labels in LIMITS:
        v = total(ms, name, labels)
        where = name if labels is None else f"{labels['stage']}.{labels['counter']}"
        check(v > 0, f"limit hit: {what} ({where} = {v:.0f})")

    stages = sorted(((dict(l).get("stage", "") + "." + dict(l).get("counter", ""), v) for (n, l), v in ms.items()
                     if n == "apitap_stage_events_total" and v > 0), key=lambda e: -e[1])
    print("  the largest stage counters: " + ", ".join(f"{e} {v:.0f}" for e, v in stages[:16]))
    print(f"soak: {'FAIL' if failures else 'passed'} ({len(failures)} check(s) failed)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
