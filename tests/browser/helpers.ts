/** What the browser tests share: logging in, the API through the gateway, fresh people, axe and screenshots. */
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, request, type APIRequestContext, type Page } from "@playwright/test";

export const BASE = process.env.RELIEF_CONSOLE_URL ?? "http://127.0.0.1:8000";
export const PASSWORD = process.env.RELIEF_DEMO_PASSWORD ?? "demo";
export const ARTIFACTS = path.join(__dirname, "artifacts");

/** Today, n days ago, in China's time zone (the services' business days). */
export function day(offset = 0): string {
  const when = new Date(Date.now() + 8 * 3600_000 + offset * 86_400_000);
  return when.toISOString().slice(0, 10);
}

/** A valid resident ID number nobody has used: random birth date and sequence, ISO 7064 MOD 11-2 check. */
export function freshIdNumber(): string {
  const year = 1965 + Math.floor(Math.random() * 30);
  const month = String(1 + Math.floor(Math.random() * 12)).padStart(2, "0");
  const date = String(1 + Math.floor(Math.random() * 28)).padStart(2, "0");
  const sequence = String(Math.floor(Math.random() * 1000)).padStart(3, "0");
  const body = `620402${year}${month}${date}${sequence}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((total, digit, i) => total + Number(digit) * weights[i], 0);
  return body + "10X98765432"[sum % 11];
}

export async function login(page: Page, user: string, password = PASSWORD): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("用户名").fill(user);
  await page.getByLabel("密码").fill(password);
  await page.getByRole("button", { name: "登录" }).click();
  await expect(page.getByTestId("logout")).toBeVisible();
}

/** An API client logged in as a demo user, through the gateway like the console. */
export class Api {
  private constructor(readonly context: APIRequestContext, readonly token: string) {}

  static async as(user: string, password = PASSWORD): Promise<Api> {
    const context = await request.newContext({ baseURL: BASE });
    const answer = await context.post("/api/auth/login", { data: { login: user, password } });
    expect(answer.status(), `login as ${user}`).toBe(200);
    return new Api(context, (await answer.json()).access_token);
  }

  async call(method: string, url: string, data?: unknown): Promise<{ status: number; body: any }> {
    const answer = await this.context.fetch(url, {
      method, data, headers: { Authorization: `Bearer ${this.token}` },
    });
    const text = await answer.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: answer.status(), body };
  }

  async ok(method: string, url: string, data?: unknown): Promise<any> {
    const { status, body } = await this.call(method, url, data);
    expect(status, `${method} ${url}: ${JSON.stringify(body)}`).toBeLessThan(300);
    return body;
  }
}

export function application(federation = "gs.by", causes = ["illness"]): Record<string, unknown> {
  return {
    federation,
    worker: { name: "测试职工", id_number: freshIdNumber(), phone: "13912345678", employer: "白银有色集团", migrant: false },
    household: {
      members: [{ name: "测试家属", relation: "spouse", age: 40, health: "chronic_illness", schooling: "junior" }],
      monthly_income: "1800.00", subsistence_line: "700.00",
    },
    category: "marginal", causes,
  };
}

/** A case filed through every step by the API: opened and worked by the caseworker, approved by the approver. */
export async function fileCase(caseworker: Api, approver: Api, body = application()): Promise<string> {
  const opened = await caseworker.ok("POST", "/api/intake/cases", body);
  const id = opened.case_id as string;
  await caseworker.ok("POST", `/api/intake/cases/${id}/verification`, {
    visitors: ["王五", "赵六"], visited_on: day(-10), per_capita_income: "900.00", findings: "入户核查属实" });
  await caseworker.ok("POST", `/api/intake/cases/${id}/deliberation`, { decided_on: day(-9), outcome: "recommend", notes: "" });
  await caseworker.ok("POST", `/api/intake/cases/${id}/notice`, { starts_on: day(-8), days: 7 });
  await approver.ok("POST", `/api/intake/cases/${id}/approval`, { approved_on: day(0) });
  return id;
}

/** Wait until `probe` returns something truthy (events travel between services asynchronously). */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, seconds = 40): Promise<T> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Save a screenshot of the page as a test artifact and check it with axe: no serious or critical violation. */
export async function checkPage(page: Page, name: string, exclude: string[] = []): Promise<void> {
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  let axe = new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]);
  for (const selector of exclude) axe = axe.exclude(selector);
  const results = await axe.analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const summary = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("\n  ")}`);
  expect(summary, `axe on ${name}`).toEqual([]);
}
