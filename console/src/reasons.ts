/** The services' field reasons (English, services/web/fields.py and marshmallow) in Chinese where they are known. */
const ZH: Array<[RegExp, string]> = [
  [/^Missing data for required field\.?$/i, "必填"],
  [/^must not be blank$/i, "不能为空"],
  [/^Field may not be null\.?$/i, "不能为空"],
  [/^must be a date written YYYY-MM-DD$/i, "日期格式应为 YYYY-MM-DD"],
  [/^not a real date$/i, "日期不存在"],
  [/^must be a decimal string such as "1800\.00"/i, "金额格式应如 1800.00"],
  [/^at most two decimal places$/i, "最多两位小数"],
  [/^must not be negative$/i, "不能为负数"],
  [/^must be greater than 0$/i, "应大于 0"],
  [/^must be 17 digits followed by a digit or X$/i, "应为 17 位数字加一位数字或 X"],
  [/^not a mobile or landline number$/i, "不是有效的手机或固定电话号码"],
  [/^two to ten staff visit the home$/i, "入户核查需 2 至 10 名工作人员"],
  [/^Must be one of/i, "请从列表中选择"],
  [/^must be one of/i, "请从列表中选择"],
  [/^(Not a valid integer\.?|must be an integer.*)$/i, "应为整数"],
  [/^must be true or false$/i, "应为是或否"],
  [/^not a federation code such as gs\.by\.pg$/i, "不是有效的工会代码（如 gs.by.pg）"],
  [/^Shorter than minimum length 1\.?$/i, "不能为空"],
  [/^Longer than maximum length (\d+)\.?$/i, "最多 $1 个字"],
  [/ is in the future; the latest date accepted is (.+)$/i, "：日期不能晚于 $1"],
];

export function reasonInLocale(reason: string, locale: string): string {
  if (!locale.startsWith("zh")) return reason;
  for (const [pattern, zh] of ZH) if (pattern.test(reason)) return reason.replace(pattern, zh);
  return reason;
}
