import { expect, test } from "@playwright/test";
import { Api, checkPage, eventually, fileCase, login } from "./helpers";

test("an approver approves a payment and is never offered approve on their own request", async ({ page }) => {
  const admin = await Api.as("demo-admin");
  const caseworker = await Api.as("demo-caseworker");
  const approver = await Api.as("demo-approver");
  const year = new Date().getFullYear();
  const program = await admin.ok("POST", "/api/aid/programs", { name: `${year}年生活救助（测试）`, kind: "living",
    year, federation: "gs.by", amount: "800.00", eligibility: {} });
  await admin.ok("POST", "/api/aid/budgets", { program_id: program.program_id, federation: "gs.by", amount: "100000.00" });
  const caseId = await fileCase(caseworker, approver);
  // The request waits until aid has seen the case filed (its own view, from intake's events); a refused request
  // is remembered under its key, so each try has a new one.
  const started = Date.now();
  await eventually(async () => (await caseworker.ok("GET", `/api/aid/cases/${caseId}/aid`)).state === "filed", "aid to see the case filed");
  const requested = await eventually(async () => {
    const answer = await caseworker.call("POST", "/api/aid/disbursements", { case_id: caseId, program_id: program.program_id,
      idempotency_key: `test-${caseId}-${Date.now()}`, reason: "生活困难救助" });
    if (answer.status >= 300) console.log(answer.status, JSON.stringify(answer.body).slice(0, 200));
    return answer.status < 300 ? answer.body as { disbursement_id: string } : null;
  }, "aid to accept a request for the filed case", 120);
  console.log(`aid accepted the request ${Date.now() - started} ms after filing`);
  const id = requested.disbursement_id;

  await login(page, "demo-approver");
  await page.goto("/approvals");
  const row = page.getByTestId(`row-${id}`);
  await expect(row.getByTestId("approve")).toBeVisible();
  await checkPage(page, "approval-queue");
  await row.getByTestId("approve").click();
  await expect(page.getByTestId(`row-${id}`)).toHaveCount(0);
  const after = await approver.ok("GET", `/api/aid/disbursements/${id}`);
  expect(after.state).toBe("approved");
  expect(after.steps.some((s: { state: string; by: string }) => s.state === "approved" && s.by === "demo-approver")).toBe(true);

  // Their own request: a caseworker who asked for aid and was then made an approver (an admin changes the
  // account's role) sees it in the queue with no approve on it, and the API refuses it too.
  const login_ = `both.${Date.now()}`;
  const password = "a long enough password";
  await admin.ok("POST", "/api/users", { login: login_, display_name: "先经办后审批", role: "caseworker",
    federation: "gs.by", password });
  const second = await fileCase(caseworker, approver);
  await eventually(async () => (await caseworker.ok("GET", `/api/aid/cases/${second}/aid`)).state === "filed", "aid to see the second case filed");
  const asker = await Api.as(login_, password);
  const own = await eventually(async () => {
    const answer = await asker.call("POST", "/api/aid/disbursements", { case_id: second, program_id: program.program_id,
      idempotency_key: `own-${second}-${Date.now()}`, reason: "生活困难救助" });
    return answer.status < 300 ? answer.body as { disbursement_id: string } : null;
  }, "aid to accept the future approver's request", 120);
  await admin.ok("PATCH", `/api/users/${login_}`, { role: "approver" });
  const promoted = await Api.as(login_, password);
  const refused = await promoted.call("POST", `/api/aid/disbursements/${own.disbursement_id}/approval`);
  expect(refused.status, JSON.stringify(refused.body)).toBeGreaterThanOrEqual(400);

  await page.getByTestId("logout").click();
  await expect(page).toHaveURL(/\/login/);
  await login(page, login_, password);
  await page.goto("/approvals");
  const mine = page.getByTestId(`row-${own.disbursement_id}`);
  await expect(mine.getByTestId("own-request")).toBeVisible();
  await expect(mine.getByTestId("approve")).toHaveCount(0);
});

test("a festival batch is listed with its standing, opened from the list and approved by an approver", async ({ page }) => {
  const admin = await Api.as("demo-admin");
  const caseworker = await Api.as("demo-caseworker");
  const approver = await Api.as("demo-approver");
  const year = new Date().getFullYear();
  const program = await admin.ok("POST", "/api/aid/programs", { name: `${year}年春节送温暖（测试）`, kind: "festival",
    festival: "spring_festival", year, federation: "gs.by", amount: "500.00", eligibility: {} });
  await admin.ok("POST", "/api/aid/budgets", { program_id: program.program_id, federation: "gs.by", amount: "1000000.00" });
  const caseId = await fileCase(caseworker, approver);
  await eventually(async () => (await caseworker.ok("GET", `/api/aid/cases/${caseId}/aid`)).state === "filed", "aid to see the case filed");
  const batch = await admin.ok("POST", `/api/aid/programs/${program.program_id}/batches`, { federation: "gs.by",
    reason: `${year}年春节送温暖`, idempotency_key: `batch-${Date.now()}` });
  expect(batch.included).toBeGreaterThan(0);

  await login(page, "demo-approver");
  await page.goto("/batches");
  const listed = page.getByTestId("batches").getByRole("row").filter({ hasText: `${year}年春节送温暖` });
  await expect(listed).toHaveCount(1);
  await expect(listed).toContainText("待审批");
  await expect(listed).toContainText("¥500.00");
  await checkPage(page, "batches-listed");
  await listed.getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/batches/${batch.batch_id}$`));
  await page.getByTestId("approve-batch").click();
  await expect(page.getByTestId("bank-file")).toBeVisible();
  await page.goto("/batches");
  await expect(page.getByTestId("batches").getByRole("row").filter({ hasText: `${year}年春节送温暖` })).toContainText("已批准");
});
