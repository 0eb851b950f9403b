"""The web UI's browser figures for `bench -- --ui` (not a test: it prints numbers).

Arguments: server URL, the 10,000-run experiment's id, the run with 10 × 1M-point metrics,
the run with 1,000 metric keys. Debian's Chromium through Playwright, 1400×900 viewport.
Each figure is the median of 5 tries.
"""

import statistics
import sys

from playwright.sync_api import sync_playwright

URL, EXP, LONG, WIDE = sys.argv[1:5]
LONGTASKS = """
window.__longtasks = [];
try {
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push(e.duration); })
    .observe({ type: "longtask", buffered: true });
} catch (_) {}
"""


FCP = "() => (performance.getEntriesByName('first-contentful-paint')[0] || {startTime: NaN}).startTime"
# The new page's rows parsed, from its navigation's start (the click or Enter that caused it).
PARSED = "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"


def median(xs):
    return statistics.median(xs)


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        ctx.add_init_script(LONGTASKS)
        page = ctx.new_page()
        runs = f"{URL}/experiments/{EXP}?cols=metrics.m1&cols=metrics.m3&cols=params.p2"

        first_rows, fcp = [], []
        for _ in range(5):
            fresh = ctx.new_page()  # a first visit: Chromium reports paint timings once per page
            fresh.goto(runs)
            first_rows.append(fresh.evaluate(PARSED))
            fresh.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length > 0")
            fcp.append(fresh.evaluate(FCP))
            fresh.close()
        print(f"ui_browser: runs page of 10,000 runs: rows parsed {median(first_rows):.0f} ms, "
              f"first contentful paint {median(fcp):.0f} ms after navigation (median of 5)")

        sort, filt = [], []
        for i in range(5):
            page.goto(runs)
            page.click("#runs thead a:text('metrics.m3')")
            page.wait_for_url("**order=metrics.m3*")
            page.wait_for_load_state("load")
            sort.append(page.evaluate(PARSED))
            page.fill("input[name=filter]", f"metrics.m1 > 0.{i + 1} AND params.p2 = 'v3'")
            page.press("input[name=filter]", "Enter")
            page.wait_for_url("**filter=*")
            page.wait_for_load_state("load")
            filt.append(page.evaluate(PARSED))
        print(f"ui_browser: sort round trip {median(sort):.0f} ms, filter round trip {median(filt):.0f} ms "
              f"(from the click or Enter, which starts the navigation, to the new page's rows parsed; median of 5)")

        draw, payload, zoom = [], [], []
        for _ in range(5):
            page.goto(f"{URL}/runs/{LONG}")
            page.locator("#charts h2").scroll_into_view_if_needed()
            page.wait_for_function("() => window.trackdTimings && window.trackdTimings.length > 0")
            t = page.evaluate("() => window.trackdTimings[0]")
            draw.append(t["drawnAt"] - t["dataAt"])
            page.locator(".chart[data-key='k9']").scroll_into_view_if_needed()
            page.wait_for_function("() => window.trackdTimings.length >= 10")
            payload.append(page.evaluate(
                "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/ui-api/series'))"
                ".reduce((n, e) => n + e.encodedBodySize, 0)"))
            over = page.locator(".chart[data-key='k0'] .u-over")
            over.scroll_into_view_if_needed()
            box = over.bounding_box()
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] * 0.5, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.51, y, steps=3)
            before = page.evaluate("() => performance.now()")
            page.mouse.up()
            page.wait_for_function("() => window.trackdTimings.some(t => t.zoom)")
            z = page.evaluate("() => window.trackdTimings.find(t => t.zoom)")
            zoom.append(z["drawnAt"] - before)
        print(f"ui_browser: run page with 10 × 1M-point metrics: first chart drawn {median(draw):.1f} ms after its data; "
              f"chart payload of all 10 charts {median(payload) / 1e3:.0f} KB; zoom round trip (mouse up to redrawn) "
              f"{median(zoom):.0f} ms (median of 5)")

        opened, longest, drawn_after = [], [], []
        for _ in range(5):
            page.goto(f"{URL}/runs/{WIDE}", wait_until="commit")
            page.wait_for_load_state("load")
            opened.append(page.evaluate("() => performance.now()"))
            page.locator("#charts h2").scroll_into_view_if_needed()
            page.wait_for_function("() => window.trackdTimings.length > 0")
            page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_function("() => window.trackdTimings.length > 2")
            drawn_after.append(page.evaluate("() => window.trackdTimings.length"))
            longest.append(page.evaluate("() => Math.max(0, ...window.__longtasks)"))
        print(f"ui_browser: run with 1,000 metric keys: loaded in {median(opened):.0f} ms, longest main-thread task "
              f"{median(longest):.0f} ms, {median(drawn_after):.0f} of 1,000 charts fetched after scrolling to the end "
              f"(only those in view)")
        browser.close()


if __name__ == "__main__":
    main()
