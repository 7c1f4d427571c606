import { expect, test } from "@playwright/test";
import { Api, application, checkPage, day, eventually, freshIdNumber, login } from "./helpers";

test("a caseworker sees a case's personal data only after giving a reason, and the read is logged", async ({ page }) => {
  const caseworker = await Api.as("demo-caseworker");
  const body = application();
  const opened = await caseworker.ok("POST", "/api/intake/cases", body);
  await login(page, "demo-caseworker");
  await page.goto(`/cases/${opened.case_id}`);
  const id = (body.worker as { id_number: string }).id_number;
  await expect(page.getByTestId("worker-id")).not.toHaveText(id);
  await page.getByTestId("show-personal").click();
  await page.locator("#disclosure-reason").fill("入户核查需要核对身份证号");
  await page.getByRole("dialog").getByRole("button", { name: "确定" }).click();
  await expect(page.getByTestId("worker-id")).toHaveText(id);
  const auditor = await Api.as("demo-auditor");
  const read = await eventually(async () => {
    const reads = (await auditor.ok("GET", "/api/audit/reads?federation=gs.by")).reads as Array<{ case_id: string; by: string; reason: string }>;
    return reads.find((r) => r.case_id === opened.case_id);
  }, "the read to reach the trail");
  expect(read.by).toBe("demo-caseworker");
  expect(read.reason).toBe("入户核查需要核对身份证号");
});

test("a bulk import shows its progress and gives the refused rows back as a file", async ({ page }) => {
  const header = "federation,name,id_number,phone,employer,migrant,monthly_income,subsistence_line,category,causes,members,filed_on";
  const good = `gs.by,导入职工,${freshIdNumber()},13912340000,白银有色集团,否,1500.00,700.00,subsistence,illness,,${day(-30)}`;
  const bad = "gs.by,错误行,12345,13912340001,,否,1500.00,700.00,subsistence,illness,,2026-01-01";
  await login(page, "demo-caseworker");
  await page.goto("/imports");
  await page.getByTestId("import-file").setInputFiles({
    name: `import-${Date.now()}.csv`, mimeType: "text/csv", buffer: Buffer.from(`${header}\n${good}\n${bad}\n`),
  });
  await page.getByRole("button", { name: "开始导入" }).click();
  const job = page.getByTestId("import-job");
  await expect(job).toContainText("已完成", { timeout: 30_000 });
  await expect(job.locator(".el-progress")).toContainText("100%");
  await expect(job).toContainText("已建档 1");
  const download = page.waitForEvent("download");
  await page.getByTestId("download-refused").click();
  const file = await (await download).path();
  const text = (await import("node:fs")).readFileSync(file!, "utf-8");
  expect(text).toContain("错误行");
  expect(text).toContain("id_number");
  await checkPage(page, "imports-done");
});
