"""bench_svg: ringmta-bench's chart, drawn as SVG text (no plotting library).

Three panels: delivered msg/s against offered load (client connections) with
the no-relay ceiling and Postfix beside ringmta; accept-to-delivery latency
against offered load; delivered msg/s against message size. Log axes where the
values span decades. Standard library only; the output is well-formed XML.
"""

import math
from xml.sax.saxutils import escape

from bench_markdown import size_text

WIDTH, PANEL_H, TOP = 900, 270, 60
LEFT, RIGHT, PAD_TOP, PAD_BOTTOM = 80, 170, 34, 46
COLORS = {"ceiling": "#888888", "ringmta": "#1f6fc5", "target": "#1f6fc5",
          "postfix": "#d9731a"}


def ticks_log(lo, hi):
    """Powers of ten (and 2, 5 between them when the span is under two decades)."""
    out, e = [], math.floor(math.log10(lo))
    steps = (1, 2, 5) if hi / lo < 100 else (1,)
    while 10 ** e <= hi * 1.0001 and len(out) < 40:
        out += [m * 10 ** e for m in steps if lo <= m * 10 ** e <= hi * 1.0001]
        e += 1
    return out or [lo, hi]


def ticks_linear(hi):
    raw = hi / 5
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    return [i * step for i in range(0, int(hi / step) + 2) if i * step <= hi * 1.05]


def tick_text(v):
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


class Panel:
    """One plot: x and y scales, axes with ticks, and polyline series."""

    def __init__(self, top, title, xlabel, ylabel, series, xlog=True, xfmt=tick_text):
        self.top, self.title, self.xlabel, self.ylabel = top, title, xlabel, ylabel
        self.series = [(n, c, d, [(x, y) for x, y in pts if x and y and y > 0])
                       for n, c, d, pts in series]
        self.series = [s for s in self.series if s[3]]
        self.xlog, self.xfmt = xlog, xfmt
        xs = [x for s in self.series for x, _ in s[3]]
        ys = [y for s in self.series for _, y in s[3]]
        self.empty = not xs
        if self.empty:
            return
        self.x0, self.x1 = min(xs), max(xs)
        if self.x0 == self.x1:
            self.x0, self.x1 = self.x0 / 2, self.x1 * 2
        self.ylog = max(ys) / min(ys) > 30
        self.y0 = min(ys) / 1.5 if self.ylog else 0
        self.y1 = max(ys) * (1.5 if self.ylog else 1.1)
        self.xs = sorted(set(xs))

    def px(self, x):
        w = WIDTH - LEFT - RIGHT
        if self.xlog:
            return LEFT + w * math.log(x / self.x0) / math.log(self.x1 / self.x0)
        return LEFT + w * (x - self.x0) / (self.x1 - self.x0)

    def py(self, y):
        h = PANEL_H - PAD_TOP - PAD_BOTTOM
        bottom = self.top + PAD_TOP + h
        if self.ylog:
            return bottom - h * math.log(y / self.y0) / math.log(self.y1 / self.y0)
        return bottom - h * (y - self.y0) / (self.y1 - self.y0)

    def svg(self):
        out = [f'<text x="{LEFT}" y="{self.top + 20}" class="title">{escape(self.title)}</text>']
        if self.empty:
            out.append(f'<text x="{LEFT}" y="{self.top + 60}">no data in this sweep</text>')
            return out
        bottom = self.top + PANEL_H - PAD_BOTTOM
        right = WIDTH - RIGHT
        out.append(f'<rect x="{LEFT}" y="{self.top + PAD_TOP}" width="{right - LEFT}" '
                   f'height="{bottom - self.top - PAD_TOP}" class="frame"/>')
        yt = ticks_log(self.y0, self.y1) if self.ylog else ticks_linear(self.y1)
        for v in yt:
            y = self.py(v)
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="grid"/>')
            out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="ytick">{tick_text(v)}</text>')
        for v in self.xs:
            x = self.px(v)
            out.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" '
                       'class="axis"/>')
            out.append(f'<text x="{x:.1f}" y="{bottom + 17}" class="xtick">'
                       f'{escape(self.xfmt(v))}</text>')
        out.append(f'<text x="{(LEFT + right) / 2:.0f}" y="{bottom + 36}" class="xlabel">'
                   f'{escape(self.xlabel)}</text>')
        mid = (self.top + PAD_TOP + bottom) / 2
        out.append(f'<text x="18" y="{mid:.0f}" class="ylabel" transform="rotate(-90 18 '
                   f'{mid:.0f})">{escape(self.ylabel)}{" (log)" if self.ylog else ""}</text>')
        for i, (name, color, dash, pts) in enumerate(self.series):
            pts = sorted(pts)
            coords = " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in pts)
            style = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                       f'stroke-width="2"{style}/>')
            for x, y in pts:
                out.append(f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="3" '
                           f'fill="{color}"/>')
            ly = self.top + PAD_TOP + 14 + 18 * i
            out.append(f'<line x1="{right + 12}" y1="{ly - 4}" x2="{right + 36}" y2="{ly - 4}" '
                       f'stroke="{color}" stroke-width="2"{style}/>')
            out.append(f'<text x="{right + 42}" y="{ly}" class="legend">{escape(name)}</text>')
        return out


def axis_rows(rep, path, axis, key):
    return [(r["point"][key], r["s"]) for r in rep["rows"]
            if r["path"] == path and axis in r["point"]["axes"] and r["s"].get("ok")]


def chart(rep):
    relay = rep["relay_path"]
    paths = [p for p in ("ceiling", relay, "postfix")
             if any(r["path"] == p for r in rep["rows"])]
    name = {"ceiling": "no relay (ceiling)", "ringmta": "ringmta", "target": "target relay",
            "postfix": "Postfix"}
    base = rep["base"]
    load = [(name[p], COLORS[p], "", [(c, s["rate"]) for c, s in axis_rows(rep, p, "load",
                                                                            "connections")])
            for p in paths]
    latency = []
    for p in (relay, "postfix"):
        for rank, dash in (("p50", ""), ("p99", "6 3"), ("p999", "2 3")):
            pts = [(c, (s.get("latency_ms") or {}).get(rank))
                   for c, s in axis_rows(rep, p, "load", "connections")]
            latency.append((f"{name[p]} {rank.replace('p999', 'p99.9')}", COLORS[p], dash, pts))
    sizes = [(name[p], COLORS[p], "", [(z, s["rate"]) for z, s in axis_rows(rep, p, "size",
                                                                             "size")])
             for p in paths]
    m = rep["info"]["machine"]
    panels = [
        Panel(TOP, f"Delivered msg/s against offered load ({size_text(base['size'])}, "
              f"{base['durability']})", "concurrent client connections (offered load)",
              "delivered msg/s", load),
        Panel(TOP + PANEL_H, "Accept-to-delivery latency against offered load",
              "concurrent client connections (offered load)", "latency ms", latency),
        Panel(TOP + 2 * PANEL_H, f"Delivered msg/s against message size "
              f"({base['connections']} connections)", "message size", "delivered msg/s",
              sizes, xfmt=lambda v: size_text(int(v)).replace(" ", "")),
    ]
    height = TOP + 3 * PANEL_H + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
           "<style>.title{font-weight:bold;font-size:14px}.frame{fill:none;stroke:#444}"
           ".grid{stroke:#ddd}.axis{stroke:#444}.ytick{text-anchor:end}"
           ".xtick,.xlabel,.ylabel{text-anchor:middle}</style>",
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
           f'<text x="{LEFT}" y="24" class="title">ringmta-bench: {escape(m["cpu_model"])}, '
           f'{m["cores_usable"]} cores, Linux {escape(m["kernel"])}</text>',
           f'<text x="{LEFT}" y="42">{escape(rep["info"]["started"])}; medians of '
           f'{rep["args"].runs} run(s) per point; loopback only</text>']
    for panel in panels:
        out += panel.svg()
    out.append("</svg>\n")
    return "\n".join(out)
