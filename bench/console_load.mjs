// Drive Debian's Chromium (playwright-core from console/node_modules) through the console's first load and
// the case list; print one JSON line of figures. Called by bench/console_load.py, which starts the system.
import { chromium } from "playwright-core";

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
  cdp.on("Network.loadingFinished", (e) => { bytes += e.encodedDataLength; requests += 1; });

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
  await page.waitForLoadState("networkidle");
  bytes = 0; requests = 0;
  let listAnswered = null;
  page.on("response", (r) => { if (r.url().includes("/api/intake/cases")) listAnswered ??= Date.now(); });
  const listStarted = Date.now();
  await page.goto(`${base}/cases`, { waitUntil: "commit" });
  await page.locator('[data-testid="case-table"] tbody tr').first().waitFor({ state: "visible", timeout: 120_000 });
  const firstPage = Date.now() - listStarted;
  const rows = await page.locator('[data-testid="case-table"] tbody tr').count();
  figures.case_list = { time_to_first_page_ms: firstPage, api_answered_ms: listAnswered ? listAnswered - listStarted : null,
                        rows_shown: rows, bytes, requests };
} finally {
  await browser.close();
}
console.log(JSON.stringify(figures));
