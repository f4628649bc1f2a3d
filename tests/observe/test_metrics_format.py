#!/usr/bin/env python3
"""The /metrics text parses as Prometheus text format 0.0.4.

Runs tests/observe/metrics_dump (two shards' registries, merged) and reads its
output back with prometheus_client's own parser (Debian: python3-prometheus-
client), checking names, types, label values after unescaping, summed values
and cumulative histogram buckets. Prints "N passed, N failed"; exits 77 (meson:
skipped) when the parser is not installed.
"""
import argparse
import subprocess
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # A python3 other than Debian's (pyenv, a venv) first on PATH: the package
    # is pure Python, so Debian's copy serves.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        print("prometheus_client is not installed (apt-get install python3-prometheus-client)")
        sys.exit(77)

parser = argparse.ArgumentParser()
parser.add_argument("--dump", required=True)
args = parser.parse_args()

text = subprocess.run([args.dump], check=True, capture_output=True, timeout=30).stdout.decode()
families = {f.name: f for f in text_string_to_metric_families(text)}
passed = failed = 0


def check(what, condition):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print("FAILED:", what)


def samples(family_name):
    return [(s.name, s.labels, s.value) for s in families[family_name].samples]


# prometheus_client strips _total from a counter's family name.
check("families", set(families) == {"ringmta_delivered", "ringmta_connections_allowed",
                                    "ringmta_up", "ringmta_delivery_seconds"})
delivered = families["ringmta_delivered"]
check("counter type", delivered.type == "counter")
check("help unescaped", delivered.documentation ==
      'Recipients delivered, by "domain" \\ and\nshard.')
by_domain = {labels["domain"]: value for name, labels, value in samples("ringmta_delivered")}
check("summed over shards", by_domain.get("gmail.com") == 2001)
check("escaped label value", by_domain.get('quote"back\\slash\nnewline') == 4)
check("UTF-8 label value", by_domain.get("b\u00fccher.de") == 6)
check("ill-formed byte replaced", by_domain.get("bad\ufffd") == 8)
check("gauge", samples("ringmta_connections_allowed") ==
      [("ringmta_connections_allowed", {"domain": "gmail.com"}, 12.5)])
check("unlabelled gauge", samples("ringmta_up") == [("ringmta_up", {}, 1.0)])
latency = families["ringmta_delivery_seconds"]
check("histogram type", latency.type == "histogram")
buckets = [(s.labels["le"], s.value) for s in latency.samples if s.name.endswith("_bucket")]
check("cumulative buckets", buckets == [("0.005", 2.0), ("0.05", 4.0), ("0.5", 6.0),
                                        ("5", 8.0), ("+Inf", 10.0)])
count = [s.value for s in latency.samples if s.name.endswith("_count")]
total = [s.value for s in latency.samples if s.name.endswith("_sum")]
check("histogram count", count == [10.0])
check("histogram sum", abs(total[0] - 11.111 * 3) < 1e-9)
check("every line ends in a newline", text.endswith("\n"))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
