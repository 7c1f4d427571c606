/**
 * Every call to the system, same origin through the gateway (/api/<service>/...): the bearer token, a refresh
 * shortly before it expires or once on a 401 (then the call is retried once), and errors as ApiError.
 */
import { ApiError } from "./errors";
import { clearSession, saveLogin, session, type Tokens, type User } from "./session";

type Query = Record<string, string | number | boolean | null | undefined>;

export interface Options {
  method?: string;
  query?: Query;
  json?: unknown;
  body?: BodyInit; // a file upload (CSV, XLSX)
  contentType?: string;
  accept?: "json" | "text" | "blob";
  auth?: boolean; // false for login and refresh
  signal?: AbortSignal;
}

const REFRESH_AHEAD_MS = 60_000;
let refreshing: Promise<boolean> | null = null;
let onLoggedOut: () => void = () => {};

/** What to do when the session cannot be renewed: the router sends the user to the login page. */
export function whenLoggedOut(handler: () => void): void {
  onLoggedOut = handler;
}

export function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return `/api${path}${text ? `?${text}` : ""}`;
}

async function send(path: string, options: Options): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.auth !== false && session.access) headers.Authorization = `Bearer ${session.access}`;
  let body: BodyInit | undefined = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.contentType) {
    headers["Content-Type"] = options.contentType;
  }
  headers.Accept = options.accept === "text" ? "text/plain, text/html, text/csv" : "application/json";
  return fetch(url(path, options.query), {
    method: options.method ?? (body === undefined ? "GET" : "POST"), headers, body, signal: options.signal,
  });
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    /* not JSON: a proxy's page */
  }
  const message = typeof body.message === "string" ? body.message : `${response.status} ${response.statusText}`;
  const code = typeof body.error === "string" ? body.error : `http_${response.status}`;
  return new ApiError(response.status, code, message, (body.fields as ApiError["fields"]) ?? {}, body);
}

/** Exchange the refresh token for new tokens (the refresh token rotates); false if the session is over. */
export function refresh(): Promise<boolean> {
  if (!session.refresh) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const response = await send("/auth/refresh", { json: { refresh_token: session.refresh }, auth: false });
      if (!response.ok) return false;
      const answer = (await response.json()) as Tokens & { user?: User };
      saveLogin(answer, answer.user ?? null);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function call(path: string, options: Options = {}): Promise<Response> {
  if (options.auth !== false && session.refresh && session.expiresAt - Date.now() < REFRESH_AHEAD_MS) {
    await refresh();
  }
  let response = await send(path, options);
  if (response.status === 401 && options.auth !== false) {
    if (await refresh()) response = await send(path, options);
    if (response.status === 401) {
      clearSession();
      onLoggedOut();
    }
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function api<T>(path: string, options: Options = {}): Promise<T> {
  const response = await call(path, options);
  if (response.status === 204) return undefined as T;
  if (options.accept === "text") return (await response.text()) as T;
  if (options.accept === "blob") return (await response.blob()) as T;
  return (await response.json()) as T;
}

/** The status too (201 created, 200 the same request again, 202 started). */
export async function apiWithStatus<T>(path: string, options: Options = {}): Promise<{ status: number; data: T }> {
  const response = await call(path, options);
  return { status: response.status, data: (await response.json()) as T };
}

let timer: ReturnType<typeof setTimeout> | undefined;

/** Renew the access token a minute before it expires, for as long as the tab stays logged in. */
export function keepSessionAlive(): void {
  clearTimeout(timer);
  if (!session.refresh) return;
  const wait = Math.max(5_000, session.expiresAt - Date.now() - REFRESH_AHEAD_MS);
  timer = setTimeout(async () => {
    if (await refresh()) keepSessionAlive();
    else if (session.refresh) {
      clearSession();
      onLoggedOut();
    }
  }, wait);
}

export async function login(loginName: string, password: string): Promise<User> {
  const response = await send("/auth/login", { json: { login: loginName, password }, auth: false });
  if (!response.ok) throw await errorOf(response);
  const answer = (await response.json()) as Tokens & { user: User };
  saveLogin(answer, answer.user);
  keepSessionAlive();
  return answer.user;
}

export async function logout(): Promise<void> {
  const token = session.refresh;
  clearTimeout(timer);
  try {
    if (token) await send("/auth/logout", { json: { refresh_token: token }, auth: false });
  } finally {
    clearSession();
  }
}

/** Save a response body as a file the user downloads. */
export function download(data: Blob | string, filename: string, type = "text/csv;charset=utf-8"): void {
  const blob = typeof data === "string" ? new Blob([data], { type }) : data;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
