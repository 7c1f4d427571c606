import { expect, test } from "@playwright/test";
import { Api, checkPage, day, eventually, fileCase, login } from "./helpers";

// The cadre's pages on a phone: 390 × 844, touch, as a cadre would open them on a home visit.
test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

test("a cadre logs a visit on a phone-sized screen", async ({ page }) => {
  const admin = await Api.as("demo-admin");
  const caseworker = await Api.as("demo-caseworker");
  const approver = await Api.as("demo-approver");

  // demo-cadre is a cadre of a health unit of gs.by (registered once), so an illness case is paired with them.
  const units = (await admin.ok("GET", "/api/pairing/units?federation=gs.by")).units as Array<{ unit_id: string; function: string }>;
  const unit = units.find((u) => u.function === "health")
    ?? await admin.ok("POST", "/api/pairing/units", { name: "白银市第一人民医院", function: "health", federation: "gs.by" });
  const cadres = (await admin.ok("GET", "/api/pairing/cadres?federation=gs.by")).cadres as Array<{ user: string }>;
  if (!cadres.some((c) => c.user === "demo-cadre")) {
    await admin.ok("POST", "/api/pairing/cadres", { name: "演示责任人", unit_id: unit.unit_id, rank: "leader",
      federation: "gs.by", phone: "13700001111", user: "demo-cadre" });
  }
  await admin.ok("PUT", "/api/pairing/capacity/gs.by", { leader: 50, staff: 50 });
  const caseId = await fileCase(caseworker, approver);
  const cadre = await Api.as("demo-cadre");
  await eventually(async () => {
    const mine = await cadre.ok("GET", "/api/pairing/my/households");
    return (mine.households as Array<{ case_id: string }>).some((h) => h.case_id === caseId);
  }, "the filed case to be paired with demo-cadre");

  await login(page, "demo-cadre");
  await expect(page).toHaveURL(/\/my-households$/);
  await expect(page.getByTestId(`visit-${caseId}`)).toBeVisible();
  await checkPage(page, "cadre-households-390");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width, "no sideways scrolling at 390 px").toBeLessThanOrEqual(390);

  await page.getByTestId(`visit-${caseId}`).click();
  await expect(page.getByTestId("visit-form")).toBeVisible();
  await page.locator("#v-date").fill(day(0));
  await page.locator("#v-findings").fill("入户走访：家属病情稳定，子女正常上学");
  await page.locator("#v-solved").fill("协助办理医保报销");
  await page.locator("#v-measures").fill("联系医院安排复诊");
  await checkPage(page, "cadre-visit-390");
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.getByTestId("visit-submit").tap();

  await expect(page).toHaveURL(/\/my-households$/);
  const card = page.locator("li.household", { has: page.getByTestId(`visit-${caseId}`) });
  const today = day(0).split("-").map(Number);
  await expect(card).toContainText(`${today[0]}年${today[1]}月${today[2]}日`);
  const visits = await cadre.ok("GET", `/api/pairing/cases/${caseId}/visits`);
  expect(visits.visits).toHaveLength(1);
  expect(visits.visits[0].findings).toContain("家属病情稳定");
});
