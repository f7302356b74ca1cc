// Opens one page in headless Chromium (Debian's, never a downloaded browser) and prints a
// JSON summary on stdout: console errors, page errors, requests that left the page,
// per-chart drawn pixels, tooltip text at hovered points, time to render; writes a
// screenshot. The Rust browser tests (crates/cli/tests/browser_*.rs) and
// benches/report_render.sh drive it.
//
//   node web/browser/check-page.mjs --url URL [--screenshot PNG] [--wait ATTR[=VALUE]]
//        [--hover CHART_ID:INDEX]... [--wait-for-bars N] [--timeout MS]
//        [--width PX] [--height PX]
//
// --wait body[ATTR] to appear (default data-rendered=true). --hover moves the mouse to
// axis position INDEX of the chart with that element id (the chart's first series) and
// records the tooltip's text. With --wait-for-bars N the script prints {"ready": true}
// as soon as the page is ready, then waits until body[data-bars] >= N (bars drawn from
// the live WebSocket), and reports the dashboard's state before and after.
import { chromium } from "playwright-core";

function parseArgs(argv) {
  const a = { hover: [], wait: "data-rendered=true", timeout: 30000, width: 1400, height: 900 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    switch (k) {
      case "--url": a.url = v; i++; break;
      case "--screenshot": a.screenshot = v; i++; break;
      case "--wait": a.wait = v; i++; break;
      case "--hover": a.hover.push(v); i++; break;
      case "--wait-for-bars": a.bars = Number(v); i++; break;
      case "--timeout": a.timeout = Number(v); i++; break;
      case "--width": a.width = Number(v); i++; break;
      case "--height": a.height = Number(v); i++; break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.url) throw new Error("--url is required");
  return a;
}

const args = parseArgs(process.argv.slice(2));
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run"],
});
const out = { url: args.url, console_errors: [], page_errors: [], external_requests: [], tooltips: {} };
try {
  const page = await browser.newPage({ viewport: { width: args.width, height: args.height } });
  const origin = args.url.startsWith("http") ? new URL(args.url).origin : null;
  page.on("console", (m) => { if (m.type() === "error") out.console_errors.push(m.text()); });
  page.on("pageerror", (e) => out.page_errors.push(String(e)));
  // Anything fetched from elsewhere than the page's own origin is recorded and refused:
  // a report must open offline, a dashboard talks to its own server only.
  await page.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith("file:") || u.startsWith("data:") || (origin && u.startsWith(origin))) return route.continue();
    out.external_requests.push(u);
    return route.abort();
  });
  const started = Date.now();
  await page.goto(args.url, { waitUntil: "load", timeout: args.timeout });
  const [attr, value] = args.wait.split("=");
  const selector = value === undefined ? `body[${attr}]` : `body[${attr}="${value}"]`;
  await page.waitForSelector(selector, { state: "attached", timeout: args.timeout });
  out.render_ms = Date.now() - started;
  out.render_ms_in_page = await page.evaluate(() => performance.now());

  // Per chart: the series it has and the coloured pixels on its canvas (axes, grid and
  // labels are grey, so a chart whose series did not draw counts almost none).
  out.charts = await page.evaluate(() => {
    const charts = window.forecastCharts || (window.forecastDashboard ? { dashboard: window.forecastDashboard.chart } : {});
    const res = {};
    for (const [id, chart] of Object.entries(charts)) {
      const canvas = chart.getDom().querySelector("canvas");
      const ctx = canvas.getContext("2d");
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let coloured = 0;
      for (let i = 0; i < img.length; i += 4) {
        const r = img[i], g = img[i + 1], b = img[i + 2], al = img[i + 3];
        if (al > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
      }
      const opt = chart.getOption();
      res[id] = { series: (opt.series || []).length, coloured_pixels: coloured, width: canvas.width, height: canvas.height };
    }
    return res;
  });

  for (const h of args.hover) {
    const [id, index] = h.split(":");
    const point = await page.evaluate(([id, index]) => {
      const charts = window.forecastCharts || (window.forecastDashboard ? { dashboard: window.forecastDashboard.chart } : {});
      const chart = charts[id];
      if (!chart) return null;
      const el = chart.getDom();
      el.scrollIntoView({ block: "center" });
      const opt = chart.getOption();
      const x = opt.xAxis[0].data ? opt.xAxis[0].data[Number(index)] : Number(index);
      const px = chart.convertToPixel({ xAxisIndex: 0 }, x);
      const r = el.getBoundingClientRect();
      return { x: r.left + px, y: r.top + r.height / 2 };
    }, [id, index]);
    if (!point) { out.tooltips[h] = null; continue; }
    await page.mouse.move(point.x, point.y);
    try {
      await page.waitForFunction(() => {
        const t = [...document.querySelectorAll(".forecast-tooltip")].find((e) => e.offsetParent !== null && e.innerText.trim() !== "");
        return !!t;
      }, null, { timeout: 5000 });
      out.tooltips[h] = await page.evaluate(() => [...document.querySelectorAll(".forecast-tooltip")]
        .filter((e) => e.offsetParent !== null).map((e) => e.innerText).join("\n"));
    } catch (e) {
      out.tooltips[h] = null;
    }
    await page.mouse.move(1, 1);
  }

  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });

  if (args.bars !== undefined) {
    // The dashboard's state: bars drawn, the last one, and the forecast on show.
    const state = () => page.evaluate(() => {
      const s = window.forecastDashboard && window.forecastDashboard.state;
      if (!s) return null;
      return JSON.parse(JSON.stringify({ total: s.total, ds: s.ds.slice(-3), close: s.close.slice(-3), forecast: s.forecast }));
    });
    out.before = await state();
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");
    await page.waitForFunction((n) => Number(document.body.dataset.bars || 0) >= n, args.bars, { timeout: args.timeout });
    // let the chart finish its redraw before reading it back
    await page.waitForTimeout(0);
    out.after = await state();
    out.alerts = await page.evaluate(() => [...document.querySelectorAll("#alerts li, [data-alert]")].map((e) => e.innerText));
    if (args.screenshot) await page.screenshot({ path: args.screenshot.replace(/\.png$/, "-live.png"), fullPage: true });
  }
} catch (e) {
  out.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
