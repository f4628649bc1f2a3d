#!/usr/bin/env python3
"""Runs one libFuzzer target for a bounded time over a scratch copy of its seed
corpus (so new inputs never land in the source tree). Exit status: the
fuzzer's (0: no crash, leak, timeout or failed check in the time given). A
crashing input is kept next to the build as crash-*; rerun it with
`<target> <file>`."""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    target, seeds, seconds, artifacts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    os.makedirs(artifacts, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ringmta-fuzz-") as corpus:
        for name in os.listdir(seeds):
            shutil.copy(os.path.join(seeds, name), corpus)
        status = subprocess.call([target, "-max_total_time=" + seconds, "-timeout=10",
                                  "-rss_limit_mb=2048", "-print_final_stats=1",
                                  "-artifact_prefix=" + artifacts + "/", corpus])
    print("%d passed, %d failed" % ((1, 0) if status == 0 else (0, 1)))
    return status


if __name__ == "__main__":
    sys.exit(main())
