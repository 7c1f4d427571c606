// Drive Debian's Chromium (playwright-core from console/node_modules) through the console's first load and
// the case list; print one JSON line of figures. Called by bench/console_load.py, which starts the system.
import { createRequire } from "node:module";

// playwright-core as the console's packages have it (an ES module does not read NODE_PATH).
const require = createRequire(`${process.env.RELIEF_CONSOLE_DIR}/package.json`);
const { chromium } = require("playwright-core");

const base = process.env.RELIEF_CONSOLE_URL;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const figures = {};
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "zh-CN" });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.clearBrowserCache");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true }); // cold: nothing from a cache
  let bytes = 0, requests = 0;
  const seen = [];
  cdp.on("Network.loadingFinished", (e) => { bytes += e.encodedDataLength; requests += 1; });
  // (counted from the first load on; the dashboard's share is what it adds after the login)
  if (process.env.DEBUG) page.on("requestfinished", (r) => seen.push(r.url()));

  // First load: from navigation to the login form ready for typing (the app mounted, its route rendered).
  const started = Date.now();
  await page.goto(`${base}/login`, { waitUntil: "commit" });
  await page.locator("#login-name").waitFor({ state: "visible" });
  const interactive = Date.now() - started;
  await page.waitForLoadState("networkidle");
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    return { domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd };
  });
  figures.first_load = { bytes, requests, time_to_interactive_ms: interactive,
                         dom_content_loaded_ms: Math.round(timing.domContentLoaded), load_ms: Math.round(timing.load) };

  // Log in, then open the case list cold (its route's code not loaded yet): time to the first page of rows.
  await page.fill("#login-name", "demo-caseworker");
  await page.fill("#login-password", "demo");
  await page.getByRole("button", { name: /登录/ }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  const landed = Date.now();
  for (let quiet = 0; quiet < 2;) { // the dashboard's charts and figures: loaded once nothing moves for a while
    const before = requests;
    await page.waitForLoadState("networkidle");
    await page.waitForTimeout(1000);
    quiet = requests === before ? quiet + 1 : 0;
  }
  figures.dashboard = { loaded_ms: Date.now() - landed - 2000, bytes, requests };
  // The case list as a user reaches it: the menu's link inside the app (the browser cache on again).
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
  const table = page.locator('[data-testid="case-table"] tbody tr').first();
  let requested = null, answered = null;
  page.on("request", (r) => { if (r.url().includes("/api/intake/cases?")) requested ??= Date.now(); });
  page.on("response", (r) => { if (r.url().includes("/api/intake/cases?")) answered ??= Date.now(); });
  bytes = 0; requests = 0;
  const clicked = Date.now();
  await page.locator('nav a[href="/cases"], aside a[href="/cases"], a[href="/cases"]').first().click();
  await table.waitFor({ state: "visible", timeout: 120_000 });
  if (process.env.DEBUG) console.error(seen.splice(0).join("\n"));
  figures.case_list = { time_to_first_page_ms: Date.now() - clicked, api_ms: answered - requested,
                        rows_shown: await page.locator('[data-testid="case-table"] tbody tr').count(), bytes, requests };

  // And opened cold: the page reloaded with nothing cached.
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  requested = null; answered = null; bytes = 0; requests = 0;
  const reloaded = Date.now();
  await page.goto(`${base}/cases`, { waitUntil: "commit" });
  await table.waitFor({ state: "visible", timeout: 120_000 });
  figures.case_list_cold = { time_to_first_page_ms: Date.now() - reloaded, api_ms: answered - requested,
                             api_requested_at_ms: requested - reloaded, bytes, requests };
} finally {
  await browser.close();
}
console.log(JSON.stringify(figures));
