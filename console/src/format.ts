/** Money and dates the way a Chinese office writes them: ¥1,000.00 and 2026年12月3日. */

const MONEY = /^(-)?([0-9]+)(?:\.([0-9]{1,2}))?$/;

/** Parse an API decimal string ("1000.00", "12.5", "-3") into integer fen; throws on anything else. */
export function toFen(amount: string | number | null | undefined): bigint {
  if (amount === null || amount === undefined || amount === "") return 0n;
  const text = typeof amount === "number" ? String(amount) : amount.trim();
  const match = MONEY.exec(text);
  if (!match) throw new Error(`not a decimal amount: ${text}`);
  const [, sign, yuan, cents = ""] = match;
  const fen = BigInt(yuan) * 100n + BigInt((cents + "00").slice(0, 2));
  return sign ? -fen : fen;
}

/** Integer fen back to the API's decimal string ("1000.00"). */
export function fenToDecimal(fen: bigint): string {
  const negative = fen < 0n;
  const abs = negative ? -fen : fen;
  const text = `${abs / 100n}.${(abs % 100n).toString().padStart(2, "0")}`;
  return negative ? `-${text}` : text;
}

/** Add decimal strings exactly, in fen (never through floating point). */
export function sumMoney(amounts: Array<string | null | undefined>): string {
  return fenToDecimal(amounts.reduce<bigint>((total, a) => total + toFen(a), 0n));
}

/** ¥1,000.00 from "1000.00" (or from fen). */
export function formatMoney(amount: string | bigint | null | undefined): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  const fen = typeof amount === "bigint" ? amount : toFen(amount);
  const negative = fen < 0n;
  const abs = negative ? -fen : fen;
  const yuan = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}¥${yuan}.${(abs % 100n).toString().padStart(2, "0")}`;
}

/** Yuan as a plain number for a chart axis only (never summed from here). */
export function yuanForChart(amount: string | null | undefined): number {
  return Number(toFen(amount)) / 100;
}

const DAY = /^([0-9]{4})-([0-9]{2})-([0-9]{2})/;

/** 2026年12月3日 (zh-CN) or 2026-12-03 (en) from an ISO date or timestamp's date part. */
export function formatDate(value: string | null | undefined, locale = "zh-CN"): string {
  if (!value) return "—";
  const match = DAY.exec(value);
  if (!match) return value;
  const [, y, m, d] = match;
  return locale.startsWith("zh") ? `${y}年${Number(m)}月${Number(d)}日` : `${y}-${m}-${d}`;
}

/** A timestamp in the browser's time zone: 2026年12月3日 13:05. */
export function formatDateTime(value: string | number | null | undefined, locale = "zh-CN"): string {
  if (value === null || value === undefined || value === "") return "—";
  const when = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(when.getTime())) return String(value);
  const day = isoDay(when);
  const time = `${String(when.getHours()).padStart(2, "0")}:${String(when.getMinutes()).padStart(2, "0")}`;
  return `${formatDate(day, locale)} ${time}`;
}

/** Today (or a given moment) as YYYY-MM-DD in the browser's time zone. */
export function isoDay(when: Date = new Date()): string {
  const m = String(when.getMonth() + 1).padStart(2, "0");
  const d = String(when.getDate()).padStart(2, "0");
  return `${when.getFullYear()}-${m}-${d}`;
}

/** A share 0..1 as a percentage: 0.3 → 30.0%. */
export function formatPercent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return "—";
  return `${(rate * 100).toFixed(1)}%`;
}
