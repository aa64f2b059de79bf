/**
 * Class names Vertex AI accepts in an image-classification import file. The import-file guide
 * ("Prepare image training data for classification", CSV section) says labels must start with
 * a letter and hold only letters, numbers and underscores. The length limit differs between
 * the APIs: AutoML's AnnotationSpec allows 32 characters matching `[a-zA-Z0-9_]+`, Vertex AI's
 * AnnotationSpec 128. SceneLab holds names to the stricter 32, so an exported file imports
 * into either.
 */

/** Longest class name SceneLab writes into a Vertex AI import file. */
export const VERTEX_LABEL_MAX_LENGTH = 32;

const VERTEX_LABEL = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Why Vertex AI would refuse `name` as a class name, or null when it is fine. */
export function vertexLabelProblem(name: string): string | null {
  if (name === '') return 'a Vertex AI class name cannot be empty';
  if (name.length > VERTEX_LABEL_MAX_LENGTH) return `"${name}" is longer than ${VERTEX_LABEL_MAX_LENGTH} characters`;
  if (!/^[A-Za-z]/.test(name)) return `"${name}" must start with a letter (A-Z or a-z)`;
  if (!VERTEX_LABEL.test(name)) return `"${name}" may hold only letters, digits and underscores`;
  return null;
}

/** Whether Vertex AI accepts `name` as a class name. */
export function isVertexLabel(name: string): boolean {
  return vertexLabelProblem(name) === null;
}

/** The closest Vertex AI name for one class: accents dropped, other characters as `_`, `c_` before a leading digit. */
function vertexForm(name: string): string {
  let s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (s === '') s = 'class';
  if (!/^[A-Za-z]/.test(s)) s = `c_${s}`;
  return s.slice(0, VERTEX_LABEL_MAX_LENGTH);
}

/**
 * A Vertex AI name for every class, distinct from each other: valid names map to themselves,
 * others to their closest valid form (`sea view` → `sea_view`, `3d` → `c_3d`, `café` →
 * `cafe`), with `_2`, `_3`, … appended where two would collide. Collisions are judged
 * ignoring case, since a dataset's names land as folder and object names on file systems that
 * may fold case. The map's inverse turns an imported file's names back into the classes.
 */
export function suggestVertexLabels(classes: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>();
  // Names that are already valid keep themselves, whatever their order.
  for (const c of classes) {
    if (isVertexLabel(c) && !taken.has(c.toLowerCase()) && !out.has(c)) {
      out.set(c, c);
      taken.add(c.toLowerCase());
    }
  }
  for (const c of classes) {
    if (out.has(c)) continue;
    const base = vertexForm(c);
    let name = base;
    for (let k = 2; taken.has(name.toLowerCase()); k++) {
      const suffix = `_${k}`;
      name = base.slice(0, VERTEX_LABEL_MAX_LENGTH - suffix.length) + suffix;
    }
    out.set(c, name);
    taken.add(name.toLowerCase());
  }
  return out;
}

/** The import-side `rename` table of an export's class → Vertex AI name map: Vertex AI name → class. */
export function classesFromVertexLabels(labelNames: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [cls, name] of labelNames) Object.defineProperty(out, name, { value: cls, enumerable: true, writable: true, configurable: true });
  return out;
}
