"""The web UI in a real browser: Debian's Chromium driven by Playwright, against a trackd
server started by tests/ui_browser.rs (its URL in MLFLOW_TRACKING_URI).

Seeds data over the REST API, walks every page as a person would and asserts what is shown:
MLflow's links, the runs table (filter, inline filter errors, sort, column picker, pages,
back button), compare, charts (sampled note, drag-to-zoom down to raw points, reset, axis,
log scale, live refresh), lazily mounted charts, tags and description, the artifact browser
and its previews, the models pages. A run named `<img src=x onerror=alert(1)>` and tags
holding script must never run anything: any dialog, page error or CSP violation fails.
Screenshots go to TRACKD_UI_SCREENSHOTS (default target/ui-screenshots).
"""

import json
import math
import os
import re
import struct
import sys
import urllib.request
import zlib

from playwright.sync_api import sync_playwright, expect

URL = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
API = URL + "/api/2.0/mlflow"
SHOTS = os.environ.get("TRACKD_UI_SCREENSHOTS", "target/ui-screenshots")
CHROMIUM = os.environ.get("TRACKD_TEST_CHROMIUM", "/usr/bin/chromium")
XSS = "<img src=x onerror=alert(1)>"
T0 = 1_764_650_000_000


def post(path, body):
    req = urllib.request.Request(
        API + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    return json.loads(urllib.request.urlopen(req).read() or b"{}")


def put_artifact(exp, run, path, data):
    req = urllib.request.Request(
        f"{URL}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/{path}", data=data, method="PUT"
    )
    urllib.request.urlopen(req).read()


def tiny_png():
    """A 4×4 red PNG, written by hand (no imaging library needed)."""
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 4 for _ in range(4))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def create_run(exp, name, tags=(), start=T0):
    body = {"experiment_id": exp, "run_name": name, "start_time": start,
            "tags": [{"key": k, "value": v} for k, v in tags]}
    return post("/runs/create", body)["run"]["info"]["run_id"]


def log_series(run, key, n, f):
    for lo in range(0, n, 1000):
        post("/runs/log-batch", {"run_id": run, "metrics": [
            {"key": key, "value": f(s), "timestamp": T0 + s * 10, "step": s} for s in range(lo, min(n, lo + 1000))]})


def seed():
    exp = post("/experiments/create", {"name": "vision <b>&</b>"})["experiment_id"]
    runs = []
    for i in range(12):
        name = XSS if i == 0 else f"run-{i:02d}"
        run = create_run(exp, name, [("team", "<script>alert(2)</script>" if i == 0 else f"team-{i % 3}")],
                         start=T0 + i * 1000)
        post("/runs/log-batch", {"run_id": run,
                                 "params": [{"key": "lr", "value": str(0.001 * (i + 1))},
                                            {"key": "optimizer", "value": "adam"}],
                                 "metrics": [{"key": "acc", "value": i / 12, "timestamp": T0, "step": 0}]})
        if i < 3:
            log_series(run, "loss", 20_000, lambda s, i=i: 2 * math.exp(-s / 4000) / (i + 1) + (5.0 if s == 13_000 else 0))
        if i != 11:
            post("/runs/update", {"run_id": run, "status": "FINISHED", "end_time": T0 + i * 1000 + 60_000})
        runs.append(run)
    child = create_run(exp, "child-run", [("mlflow.parentRunId", runs[1])])
    many = create_run(exp, "many-metrics")
    post("/runs/log-batch", {"run_id": many, "metrics": [
        {"key": f"m{k:03d}", "value": float(s), "timestamp": T0 + s, "step": s} for k in range(60) for s in range(3)]})
    post("/runs/log-inputs", {"run_id": runs[0], "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
                                                                "dataset": {"name": "iris", "digest": "abc123", "source_type": "local", "source": "{}"}}]})
    put_artifact(exp, runs[0], "cfg.json", b'{"b": [1, 2], "a": "<script>alert(4)</script>"}')
    put_artifact(exp, runs[0], "data/t.csv", b"col1,col2\n1,<b>x</b>\n2,y\n")
    put_artifact(exp, runs[0], "evil.html", b"<script>alert(5)</script>")
    put_artifact(exp, runs[0], "plot.png", tiny_png())
    post("/logged-models", {"experiment_id": exp, "name": "clf", "source_run_id": runs[0]})
    post("/registered-models/create", {"name": "iris"})
    post("/model-versions/create", {"name": "iris", "source": f"runs:/{runs[0]}/clf", "run_id": runs[0]})
    post("/registered-models/alias", {"name": "iris", "alias": "champion", "version": "1"})
    return exp, runs, child, many


def main():
    os.makedirs(SHOTS, exist_ok=True)
    exp, runs, child, many = seed()
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("dialog", lambda d: (problems.append("dialog: " + d.message), d.dismiss()))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("console", lambda m: problems.append("console: " + m.text)
                if m.type == "error" and "favicon" not in m.text else None)

        # Experiments, and MLflow's links routed in the browser.
        page.goto(URL + "/")
        expect(page.locator("#experiments")).to_contain_text("vision <b>&</b>")
        page.screenshot(path=f"{SHOTS}/experiments.png", full_page=True)
        page.goto(f"{URL}/#/experiments/{exp}")
        page.wait_for_url(f"{URL}/experiments/{exp}")
        page.goto(f"{URL}/#/experiments/{exp}/runs/{runs[0]}")
        page.wait_for_url(f"{URL}/runs/{runs[0]}")
        expect(page.locator("h1")).to_contain_text(XSS)

        # Runs table: every run, the XSS name shown as text.
        page.goto(f"{URL}/experiments/{exp}")
        rows = page.locator("#runs tbody tr")
        expect(rows).to_have_count(14)
        expect(page.locator("#runs")).to_contain_text(XSS)
        page.screenshot(path=f"{SHOTS}/runs-table.png", full_page=True)
        # Filter on the server; the URL carries it.
        page.fill("input[name=filter]", "metrics.acc > 0.5")
        page.press("input[name=filter]", "Enter")
        page.wait_for_url("**filter=metrics.acc*")
        expect(rows).to_have_count(5)
        # A bad filter shows its error inline, with the position marked.
        page.fill("input[name=filter]", "metrics.acc >")
        page.press("input[name=filter]", "Enter")
        expect(page.locator(".filter-error")).to_contain_text("Invalid filter at position")
        expect(page.locator(".filter-error mark")).to_have_count(1)
        # Sort by a column on the server; the back button restores the previous state.
        page.goto(f"{URL}/experiments/{exp}")
        page.click("#runs thead a:text('metrics.acc')")
        page.wait_for_url("**order=metrics.acc+DESC*")
        expect(rows.first).to_contain_text("run-11")
        page.click("#runs thead a:text('metrics.acc')")
        page.wait_for_url("**order=metrics.acc+ASC*")
        page.go_back()
        page.wait_for_url("**order=metrics.acc+DESC*")
        expect(rows.first).to_contain_text("run-11")
        # Column picker: loaded when opened, narrows, adds a column.
        page.click("details.columns summary")
        page.fill("input.narrow", "team")
        expect(page.locator("label.pick:visible")).to_have_count(1)
        page.check("input[value='tags.team']")
        page.click("text=Show these columns")
        page.wait_for_url("**cols=tags.team*")
        expect(page.locator("#runs thead")).to_contain_text("tags.team")
        expect(page.locator("#runs tbody")).to_contain_text("<script>alert(2)</script>")
        # Pages: a few rows in the DOM at a time.
        page.goto(f"{URL}/experiments/{exp}?n=5")
        expect(rows).to_have_count(5)
        first_page = rows.all_inner_texts()
        page.click("#next-page")
        expect(rows).to_have_count(5)
        assert not set(first_page) & set(rows.all_inner_texts()), "pages overlap"

        # Compare two runs: differing params highlighted, overlaid charts.
        page.goto(f"{URL}/experiments/{exp}?order=attributes.start_time+ASC")
        page.check(f"input[value='{runs[1]}']")
        page.check(f"input[value='{runs[2]}']")
        page.click("text=Compare selected")
        page.wait_for_url("**/compare?runs=*")
        expect(page.locator("#compare-params tr.diff")).to_contain_text("lr")
        page.check("#only-diff")
        expect(page.locator("#compare-params tbody tr:visible")).to_have_count(1)
        loss = page.locator(".chart[data-key='loss']")
        expect(loss).to_have_class(re.compile(r"\bdrawn\b.*|.*\bdrawn\b"))
        expect(loss).to_have_class(re.compile(r"\bsampled\b"))
        expect(loss.locator(".chart-note")).to_contain_text("of 40,000 points")
        expect(loss.locator(".u-legend")).to_contain_text("run-01")
        page.select_option("select[name=x]", "relative")
        page.wait_for_url("**x=relative*")
        page.check("input[name=log]")
        page.wait_for_url("**log=1*")
        page.screenshot(path=f"{SHOTS}/compare.png", full_page=True)

        # Run page: charts sampled, drag to zoom to raw points, double-click to reset.
        page.goto(f"{URL}/runs/{runs[1]}")
        chart = page.locator(".chart[data-key='loss']")
        note = chart.locator(".chart-note")
        expect(note).to_contain_text("of 20,000 points")
        expect(note).to_contain_text("sampled")
        expect(note).to_contain_text("max 5.039")  # the spike at step 13,000 survives sampling
        page.screenshot(path=f"{SHOTS}/run-page.png", full_page=True)
        over = chart.locator(".u-over")
        over.scroll_into_view_if_needed()
        box = over.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.62, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.635, y, steps=5)
        page.mouse.up()
        expect(note).to_contain_text("steps")
        expect(note).to_contain_text("all ")
        expect(chart).not_to_have_class(re.compile(r"\bsampled\b"))
        chart.screenshot(path=f"{SHOTS}/chart-zoomed.png")
        over.dblclick()
        expect(note).to_contain_text("sampled")
        chart.screenshot(path=f"{SHOTS}/chart.png")

        # A run with 60 metrics mounts only the charts in view.
        page.goto(f"{URL}/runs/{many}")
        assert page.locator(".chart.drawn").count() == 0, "charts below the fold wait"
        page.locator("#charts h2").scroll_into_view_if_needed()
        expect(page.locator(".chart.drawn").first).to_be_visible()
        drawn = page.locator(".chart.drawn").count()
        assert drawn < 60, f"{drawn} charts drawn before scrolling"
        last = page.locator(".chart[data-key='m059']")
        last.scroll_into_view_if_needed()
        expect(last).to_have_class(re.compile(r"\bdrawn\b"))

        # Live: a running run's visible chart picks up new points without a reload.
        page.goto(f"{URL}/runs/{runs[11]}")
        acc = page.locator(".chart[data-key='acc'] .chart-note")
        expect(acc).to_contain_text("all 1 point")
        post("/runs/log-batch", {"run_id": runs[11], "metrics": [{"key": "acc", "value": 0.9, "timestamp": T0 + 5, "step": 1}]})
        expect(acc).to_contain_text("all 2 points", timeout=15_000)

        # Tags and description through the forms.
        page.goto(f"{URL}/runs/{runs[0]}")
        page.fill("input[aria-label='Tag key']", "stage")
        page.fill("input[aria-label='Tag value']", "<i>beta</i>")
        page.click("text=Set tag")
        expect(page.locator("#tags")).to_contain_text("<i>beta</i>")
        page.click("button[aria-label='Delete tag stage']")
        expect(page.locator("#tags")).not_to_contain_text("stage")
        page.click("text=Edit description")
        page.fill("textarea[name=value]", "notes <script>alert(6)</script>")
        page.click("text=Save description")
        expect(page.locator("pre.desc")).to_have_text("notes <script>alert(6)</script>")
        expect(page.locator("#datasets")).to_contain_text("training")
        expect(page.locator("#models")).to_contain_text("clf")

        # Artifacts: previews as text, a CSV head as a table, raster images, no HTML render.
        page.click("#artifacts a:text('cfg.json')")
        expect(page.locator("pre.text")).to_contain_text('"a": "<script>alert(4)</script>"')
        page.click("#artifacts a.dir:text('data')")
        page.click("#artifacts a:text('t.csv')")
        expect(page.locator("table.csv")).to_contain_text("<b>x</b>")
        page.click("#artifacts nav.path a:text('artifacts')")
        page.click("#artifacts a:text('evil.html')")
        expect(page.locator(".preview")).to_contain_text("No preview for this type")
        download = page.locator(".preview a:text('Download')")
        href = download.get_attribute("href")
        response = page.request.get(URL + href)
        assert response.headers["content-disposition"].startswith("attachment"), response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        page.click("#artifacts a:text('plot.png')")
        img = page.locator("img.artifact-image")
        expect(img).to_be_visible()
        page.wait_for_function("() => document.querySelector('img.artifact-image').naturalWidth === 4")
        page.screenshot(path=f"{SHOTS}/artifacts.png", full_page=True)

        # Models pages.
        page.goto(f"{URL}/experiments/{exp}/models")
        expect(page.locator("#logged-models")).to_contain_text("clf")
        page.goto(URL + "/models")
        expect(page.locator("#registered-models")).to_contain_text("@champion")
        page.click("#registered-models a:text('iris')")
        expect(page.locator("#versions")).to_contain_text(runs[0])

        # Experiments: create, then find it.
        page.goto(URL + "/")
        page.fill("input[name=name]", "made in the browser")
        page.click("button:text('Create')")
        expect(page.locator("h1")).to_have_text("made in the browser")

        browser.close()
    assert not problems, problems
    print("all checks passed")


if __name__ == "__main__":
    sys.exit(main())
