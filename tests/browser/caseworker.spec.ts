import { expect, test, type Page } from "@playwright/test";
import { checkPage, day, freshIdNumber, login } from "./helpers";

async function choose(page: Page, select: string, option: string): Promise<void> {
  await page.locator(`.el-select:has(${select})`).click();
  await page.getByRole("option", { name: option, exact: true }).locator("visible=true").click();
}

/** Fill and submit the open action dialog; `fields` by input id. */
async function act(page: Page, action: string, fields: Array<[string, string]> = [], selects: Record<string, string> = {}): Promise<void> {
  await page.getByTestId(`action-${action}`).click();
  // The action's dialog, not a date picker's popper (also role=dialog), which may still be fading out.
  const dialog = page.getByRole("dialog").filter({ has: page.getByTestId("action-submit") });
  await expect(dialog).toBeVisible();
  for (const [id, value] of fields) {
    await dialog.locator(`#${id}`).fill(value);
    if (!id.endsWith("findings")) await dialog.locator(`#${id}`).press("Enter");
  }
  for (const [id, option] of Object.entries(selects)) await choose(page, `#${id}`, option);
  await dialog.getByTestId("action-submit").click();
  await expect(dialog).toBeHidden();
}

test("a caseworker files a case from the form through every step, an approver files it", async ({ page, browser }) => {
  await login(page, "demo-caseworker");
  await page.goto("/cases");
  await checkPage(page, "case-list");

  await page.getByRole("button", { name: "新建申请" }).click();
  await expect(page.getByRole("heading", { name: "新建困难职工申请" })).toBeVisible();
  await page.locator("#w-name").fill("王建国");
  await page.locator("#w-id").fill(freshIdNumber());
  await page.locator("#w-phone").fill("13812345678");
  await page.locator("#w-employer").fill("白银有色集团");
  await page.getByRole("button", { name: "添加家庭成员" }).click();
  await page.locator("#m0-name").fill("李秀英");
  await choose(page, "#m0-rel", "配偶");
  await page.locator("#m0-age").fill("45");
  await choose(page, "#m0-health", "慢性病");
  await page.locator("#h-income").fill("1800.00");
  await page.locator("#h-line").fill("700.00");
  await choose(page, "#c-category", "低保边缘户");
  await page.locator("label.el-checkbox", { hasText: "因病" }).click();
  await checkPage(page, "case-new");
  await page.getByTestId("submit-case").click();

  await expect(page).toHaveURL(/\/cases\/[0-9a-f-]{36}$/);
  const caseUrl = page.url();
  await expect(page.getByTestId("case-state")).toHaveText("已申请");
  await checkPage(page, "case-detail");

  await act(page, "verification", [["act-visitors", "王五"], ["act-visitors", "赵六"], ["act-visited_on", day(-10)],
    ["act-per_capita_income", "900.00"], ["act-findings", "入户核查：家庭收入属实，配偶慢性病"]]);
  await expect(page.getByTestId("case-state")).toHaveText("已核查");
  await act(page, "deliberation", [["act-decided_on", day(-9)]]);
  await expect(page.getByTestId("case-state")).toHaveText("已评议");
  await act(page, "notice", [["act-starts_on", day(-8)]]);
  await expect(page.getByTestId("case-state")).toHaveText("公示中");
  await expect(page.getByTestId("action-approval")).toHaveCount(0); // not the caseworker's step

  const approverContext = await browser.newContext();
  const approver = await approverContext.newPage();
  await login(approver, "demo-approver");
  await approver.goto(caseUrl);
  await expect(approver.getByTestId("case-state")).toHaveText("公示中");
  await act(approver, "approval", [["act-approved_on", day(0)]]);
  await expect(approver.getByTestId("case-state")).toHaveText("已建档");
  await approverContext.close();

  await page.reload();
  await expect(page.getByTestId("case-state")).toHaveText("已建档");
  await expect(page.getByTestId("action-review")).toBeVisible();
  await expect(page.getByTestId("action-exit")).toBeVisible();

  // Amend the file: the form comes filled as the case shows it, the phone masked; what is sent back masked stays.
  await page.getByTestId("action-amendment").click();
  await expect(page).toHaveURL(/\/amend$/);
  await expect(page.getByRole("heading", { name: "修改档案" })).toBeVisible();
  await expect(page.locator("#w-phone")).toHaveValue("138****5678");
  await expect(page.locator("#w-id")).toBeDisabled();
  await page.locator("#h-income").fill("600.00");
  await page.locator("#w-employer").fill("白银市建筑公司");
  await checkPage(page, "case-amend");
  await page.getByTestId("submit-case").click();
  await expect(page.locator(".el-form-item", { has: page.locator("#a-reason") })).toHaveClass(/is-error/);
  await page.locator("#a-reason").fill("职工换了工作，家庭收入下降");
  await page.getByTestId("submit-case").click();
  await expect(page).toHaveURL(caseUrl);
  const amended = page.locator(".el-timeline-item", { hasText: "档案修改" });
  await expect(amended).toContainText("职工信息");
  await expect(amended).toContainText("家庭成员");
  await expect(amended).toContainText("职工换了工作");
  await expect(page.getByText("白银市建筑公司")).toBeVisible();
});

test("a validation error from the API shows beside its field", async ({ page }) => {
  await login(page, "demo-caseworker");
  await page.goto("/cases/new");
  await page.locator("#w-name").fill("张三");
  await page.locator("#w-id").fill("62040219800101123");
  await page.locator("#w-phone").fill("13812345678");
  await page.locator("#h-income").fill("1800.00");
  await page.locator("#h-line").fill("700.00");
  await choose(page, "#c-category", "低保户");
  await page.locator("label.el-checkbox", { hasText: "收入低" }).click();
  await page.getByTestId("submit-case").click();
  const idItem = page.locator(".el-form-item", { has: page.locator("#w-id") });
  await expect(idItem).toHaveClass(/is-error/);
  await expect(idItem.locator(".el-form-item__error")).toContainText("17");
  await expect(page.locator(".el-form-item", { has: page.locator("#w-name") })).not.toHaveClass(/is-error/);
  await checkPage(page, "case-new-error");
});
