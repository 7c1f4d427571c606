import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { whenLoggedOut } from "./api/http";
import { session, type Role } from "./api/session";
import { CAN } from "./roles";
import { i18n } from "./i18n";

declare module "vue-router" {
  interface RouteMeta {
    title?: string; // an i18n key
    roles?: readonly Role[];
    public?: boolean;
  }
}

const routes: RouteRecordRaw[] = [
  { path: "/login", component: () => import("./views/LoginView.vue"), meta: { title: "login.title", public: true } },
  {
    path: "/",
    component: () => import("./layouts/AppLayout.vue"),
    children: [
      { path: "", name: "home", redirect: () => home() },
      { path: "dashboard", component: () => import("./views/DashboardView.vue"),
        meta: { title: "nav.dashboard", roles: ["caseworker", "approver", "auditor", "admin"] } },
      { path: "cases", component: () => import("./views/CaseList.vue"), meta: { title: "nav.cases", roles: CAN.readCases } },
      { path: "cases/new", component: () => import("./views/CaseNew.vue"), meta: { title: "nav.newCase", roles: CAN.openCase } },
      { path: "cases/:id", component: () => import("./views/CaseDetail.vue"), props: true,
        meta: { title: "detail.title", roles: CAN.readCases } },
      { path: "cases/:id/amend", component: () => import("./views/CaseNew.vue"), props: true,
        meta: { title: "form.amendTitle", roles: CAN.workCase } },
      { path: "imports", component: () => import("./views/ImportView.vue"), meta: { title: "nav.imports", roles: CAN.importCases } },
      { path: "my-households", component: () => import("./views/MyHouseholds.vue"),
        meta: { title: "nav.myHouseholds", roles: CAN.myHouseholds } },
      { path: "visits/:caseId", component: () => import("./views/VisitRecord.vue"), props: true,
        meta: { title: "visits.record", roles: CAN.recordVisit } },
      { path: "coverage", component: () => import("./views/CoverageView.vue"), meta: { title: "nav.coverage", roles: CAN.coverage } },
      { path: "roster", component: () => import("./views/RosterView.vue"), meta: { title: "nav.roster", roles: CAN.readRoster } },
      { path: "programs", component: () => import("./views/ProgramsView.vue"), meta: { title: "nav.programs", roles: CAN.readAid } },
      { path: "approvals", component: () => import("./views/ApprovalQueue.vue"),
        meta: { title: "nav.approvals", roles: ["approver", "admin"] } },
      { path: "batches/:id?", component: () => import("./views/BatchView.vue"), props: true,
        meta: { title: "nav.batches", roles: CAN.readAid } },
      { path: "audit/cases/:id?", component: () => import("./views/TimelineView.vue"), props: true,
        meta: { title: "nav.timeline", roles: CAN.history } },
      { path: "audit/anomalies", component: () => import("./views/AnomaliesView.vue"),
        meta: { title: "nav.anomalies", roles: CAN.readLog } },
      { path: "audit/checkpoint", component: () => import("./views/CheckpointView.vue"),
        meta: { title: "nav.checkpoint", roles: CAN.readLog } },
      { path: "audit/reads", component: () => import("./views/ReadsView.vue"), meta: { title: "nav.reads", roles: CAN.readsLog } },
      { path: "users", component: () => import("./views/UsersView.vue"), meta: { title: "nav.users", roles: CAN.manageUsers } },
    ],
  },
  { path: "/:rest(.*)*", redirect: "/" },
];

/** Where a role starts: a cadre on their households, everyone else on the dashboard. */
export function home(): string {
  return session.user?.role === "cadre" ? "/my-households" : "/dashboard";
}

export const router = createRouter({ history: createWebHistory(), routes });

router.beforeEach((to) => {
  if (to.meta.public) return session.user && to.path === "/login" ? home() : true;
  if (!session.user) return { path: "/login", query: { redirect: to.fullPath } };
  const roles = to.matched.flatMap((r) => (r.meta.roles ? [r.meta.roles] : []));
  if (roles.some((allowed) => !allowed.includes(session.user!.role))) return home();
  return true;
});

router.afterEach((to) => {
  const t = i18n.global.t;
  document.title = to.meta.title ? `${t(to.meta.title)} · ${t("app.title")}` : t("app.title");
});

whenLoggedOut(() => {
  const here = router.currentRoute.value;
  if (!here.meta.public) void router.push({ path: "/login", query: { redirect: here.fullPath, expired: "1" } });
});
