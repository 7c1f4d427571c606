import { expect, test } from "@playwright/test";
import { checkPage, login } from "./helpers";

// Every main page not walked through by a scenario: it loads for its role (no error shown), passes axe, and is
// kept as a screenshot.
const PAGES: Array<{ user: string; path: string; name: string; heading: string }> = [
  { user: "demo-caseworker", path: "/dashboard", name: "dashboard", heading: "统计概览" },
  { user: "demo-caseworker", path: "/imports", name: "imports", heading: "批量导入档案" },
  { user: "demo-caseworker", path: "/coverage", name: "coverage", heading: "结对覆盖情况" },
  { user: "demo-admin", path: "/roster", name: "roster", heading: "帮扶单位与责任人" },
  { user: "demo-admin", path: "/programs", name: "programs", heading: "帮扶项目与预算" },
  { user: "demo-admin", path: "/batches", name: "batches", heading: "送温暖批次" },
  { user: "demo-admin", path: "/users", name: "users", heading: "用户管理" },
  { user: "demo-auditor", path: "/audit/reads", name: "reads", heading: "个人信息查看记录" },
];

for (const { user, path, name, heading } of PAGES) {
  test(`${name} (${user})`, async ({ page }) => {
    await login(page, user);
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
    await expect(page.getByRole("alert")).toHaveCount(0);
    await expect(page).toHaveTitle(new RegExp(`${heading.slice(0, 4)}|困难职工帮扶管理系统`));
    await checkPage(page, name);
  });
}

test("the login page and the English locale", async ({ page }) => {
  await page.goto("/login");
  await checkPage(page, "login");
  await login(page, "demo-caseworker");
  await page.locator(".el-select:has(input[aria-label='语言'])").first().click();
  await page.getByRole("option", { name: "English" }).locator("visible=true").click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.lang)).toBe("en");
  await page.locator(".el-select:has(input[aria-label='Language'])").first().click();
  await page.getByRole("option", { name: "简体中文" }).locator("visible=true").click();
  await expect(page.getByRole("heading", { level: 1, name: "统计概览" })).toBeVisible();
});
