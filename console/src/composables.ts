/** Loading, error and per-field error state shared by the pages. */
import { ref, shallowRef, type Ref } from "vue";
import { ElMessage } from "element-plus";
import { ApiError, fieldError, type FieldErrors } from "./api/errors";
import { i18n } from "./i18n";
import { reasonInLocale } from "./reasons";

/** A readable sentence for any failure: the API's message, or what went wrong on the way. */
export function messageOf(error: unknown): string {
  const t = i18n.global.t;
  if (error instanceof ApiError) {
    if (error.status >= 500 && !error.body.message) return t("errors.server");
    return error.message;
  }
  if (error instanceof TypeError) return t("errors.network");
  return error instanceof Error ? error.message : String(error);
}

export function toastError(error: unknown): void {
  ElMessage({ type: "error", message: messageOf(error), showClose: true, duration: 6000 });
}

export function toastDone(message: string): void {
  ElMessage({ type: "success", message });
}

/** Run a read, keeping `loading`, `error` and `data` for the template; `run` reloads. */
export function useLoad<T>(load: () => Promise<T>, immediate = true) {
  const data = shallowRef<T | null>(null) as Ref<T | null>;
  const error = ref<string | null>(null);
  const loading = ref(false);
  async function run(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      data.value = await load();
    } catch (e) {
      error.value = messageOf(e);
    } finally {
      loading.value = false;
    }
  }
  if (immediate) void run();
  return { data, error, loading, run };
}

/** A form's submission: per-field errors from the API beside each field, the message for the rest. */
export function useSubmit() {
  const fields = ref<FieldErrors>({});
  const message = ref<string | null>(null);
  const busy = ref(false);
  const of = (path: string) => fieldError(fields.value, path, (r) => reasonInLocale(r, i18n.global.locale.value));
  async function submit<T>(action: () => Promise<T>): Promise<T | undefined> {
    busy.value = true;
    fields.value = {};
    message.value = null;
    try {
      return await action();
    } catch (e) {
      if (e instanceof ApiError) fields.value = e.fields ?? {};
      message.value = messageOf(e);
      return undefined;
    } finally {
      busy.value = false;
    }
  }
  function clear(): void {
    fields.value = {};
    message.value = null;
  }
  return { fields, message, busy, of, submit, clear };
}

/** A key for requests that must not be made twice (aid's idempotency_key). */
export function newKey(): string {
  return crypto.randomUUID();
}
