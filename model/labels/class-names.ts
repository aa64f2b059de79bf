/**
 * Rules for class names a person types. A class name becomes a folder in an exported zip and
 * a column value in CSV files, so it must be non-empty, carry no edge whitespace or control
 * characters, contain no path separators, and differ from every other class even ignoring
 * case (macOS and Windows folders fold case).
 */

/** Longest class name SceneLab accepts. */
export const CLASS_NAME_MAX_LENGTH = 100;

/** One reason a class name is refused, naming the class. */
export interface ClassNameProblem {
  name: string;
  reason: string;
}

/** Why `name` cannot be a class name on its own, or null when it can. */
export function classNameProblem(name: string): string | null {
  if (name.trim() === '') return 'a class name cannot be empty';
  if (name !== name.trim()) return `"${name}" starts or ends with whitespace`;
  if (/\s{2,}/.test(name)) return `"${name}" holds consecutive spaces`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return `"${name}" holds a control character`;
  if (/[/\\]/.test(name)) return `"${name}" holds a slash, which would make it a folder path`;
  if (name === '.' || name === '..') return `"${name}" is not a usable folder name`;
  if (name.length > CLASS_NAME_MAX_LENGTH) return `"${name}" is longer than ${CLASS_NAME_MAX_LENGTH} characters`;
  return null;
}

/**
 * Why `name` cannot be added beside `existing`, or null when it can. `except` is the class
 * being renamed (it may keep its own name or change its case).
 */
export function newClassNameProblem(name: string, existing: readonly string[], except?: string): string | null {
  const own = classNameProblem(name);
  if (own) return own;
  const twin = existing.find((c) => c !== except && c.toLowerCase() === name.toLowerCase());
  if (twin === undefined) return null;
  return twin === name ? `a class named "${name}" already exists` : `"${name}" differs from the class "${twin}" only in case`;
}

/** Every problem of a whole class list: each bad name, and each name repeating an earlier one (ignoring case). */
export function validateClassNames(names: readonly string[]): ClassNameProblem[] {
  const problems: ClassNameProblem[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const own = classNameProblem(name);
    if (own) {
      problems.push({ name, reason: own });
      continue;
    }
    const twin = seen.get(name.toLowerCase());
    if (twin !== undefined) {
      problems.push({ name, reason: twin === name ? `"${name}" is listed twice` : `"${name}" differs from "${twin}" only in case` });
    } else seen.set(name.toLowerCase(), name);
  }
  return problems;
}
