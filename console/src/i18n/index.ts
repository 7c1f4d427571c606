import { createI18n } from "vue-i18n";
import zh from "./zh-CN";
import en from "./en";

export type Locale = "zh-CN" | "en";
const KEY = "relief.locale";

function initial(): Locale {
  const saved = localStorage.getItem(KEY);
  return saved === "en" ? "en" : "zh-CN";
}

export const i18n = createI18n({
  legacy: false,
  locale: initial(),
  fallbackLocale: "zh-CN",
  messages: { "zh-CN": zh, en },
});

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  localStorage.setItem(KEY, locale);
  document.documentElement.lang = locale;
}
