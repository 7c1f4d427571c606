/** Who is logged in and their tokens, kept in sessionStorage (never localStorage): gone with the tab. */
import { reactive } from "vue";

export type Role = "caseworker" | "approver" | "cadre" | "auditor" | "admin";

export interface User {
  login: string;
  display_name: string;
  role: Role;
  federation: string;
}

export interface Tokens {
  access_token: string;
  refresh_token: string | null;
  expires_in: number;
}

interface Stored {
  user: User | null;
  access: string | null;
  refresh: string | null;
  expiresAt: number; // ms since the epoch
}

const KEY = "relief.session";
const DEV_TOKEN = "relief.token"; // a `make token` pasted by hand while the gateway's login does not exist

function load(): Stored {
  try {
    const stored = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Stored | null;
    if (stored?.access && stored.user) return stored;
  } catch {
    /* unreadable: start logged out */
  }
  const pasted = typeof sessionStorage !== "undefined" ? sessionStorage.getItem(DEV_TOKEN) : null;
  if (pasted) {
    const claims = claimsOf(pasted);
    if (claims) {
      const user: User = { login: claims.sub, display_name: claims.sub, role: claims.role, federation: claims.fed };
      return { user, access: pasted, refresh: null, expiresAt: claims.exp * 1000 };
    }
  }
  return { user: null, access: null, refresh: null, expiresAt: 0 };
}

interface Claims {
  sub: string;
  role: Role;
  fed: string;
  exp: number;
}

/** The claims of a JWT, unverified (the services verify it; the console only reads who it names). */
export function claimsOf(token: string): Claims | null {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")),
        (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    const claims = JSON.parse(json) as Claims;
    return claims.sub && claims.role && claims.fed ? claims : null;
  } catch {
    return null;
  }
}

export const session = reactive<Stored>(load());

export function saveLogin(tokens: Tokens, user: User | null): void {
  session.access = tokens.access_token;
  session.refresh = tokens.refresh_token;
  session.expiresAt = Date.now() + tokens.expires_in * 1000;
  if (user) session.user = user;
  sessionStorage.setItem(KEY, JSON.stringify({ ...session }));
}

export function clearSession(): void {
  session.user = null;
  session.access = null;
  session.refresh = null;
  session.expiresAt = 0;
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(DEV_TOKEN);
}

export function hasRole(...roles: Role[]): boolean {
  return !!session.user && roles.includes(session.user.role);
}
