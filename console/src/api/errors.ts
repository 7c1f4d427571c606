/** The one error shape of every service: {"error", "message", "fields"} (services/web/errors.py). */

export type FieldErrors = { [key: string]: string[] | FieldErrors };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldErrors = {},
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The reasons given for one field, by its dotted path ("household.members.0.age"); joined for el-form-item. */
export function fieldError(
  fields: FieldErrors | undefined, path: string, translate: (reason: string) => string = (r) => r,
): string {
  let node: string[] | FieldErrors | undefined = fields;
  for (const part of path.split(".")) {
    if (!node || Array.isArray(node)) return "";
    node = node[part];
  }
  if (!node) return "";
  if (Array.isArray(node)) return node.map((r) => translate(String(r))).join("；");
  // A nested object under this field (e.g. a list's items): show the first few of its reasons.
  return flatten(node).slice(0, 3).map(([p, r]) => `${p}: ${translate(r)}`).join("；");
}

/** Every (path, reason) pair of a nested fields object. */
export function flatten(fields: FieldErrors, prefix = ""): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(fields)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (Array.isArray(value)) value.forEach((reason) => found.push([path, String(reason)]));
    else if (value && typeof value === "object") found.push(...flatten(value as FieldErrors, path));
  }
  return found;
}
