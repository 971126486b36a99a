/**
 * Generate docs/stats.schema.json, the JSON Schema of the stats object, from
 * the `MachineStats` type in src/kernel/stats.ts: `deno doc --json` gives the
 * interface with its doc comments, and each property becomes a schema
 * property with the comment as its description.
 *
 *   deno task schema            write docs/stats.schema.json
 *   deno task schema --check    exit 1 if the file is not what the type gives
 *
 * The mapping is deliberately small: `number` is a non-negative integer
 * (every stat is a count, a size or a time in whole units), a number literal
 * is a `const`, `T[]` an array, an inline object type a closed object
 * (`additionalProperties: false`, every non-optional property required), a
 * reference to another interface of the same file that interface. Anything
 * else stops the generator, so a new kind of field gets a rule here rather
 * than a wrong schema.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
const SOURCE = new URL("src/kernel/stats.ts", ROOT);
/** Where the schema is written. */
export const SCHEMA_PATH: URL = new URL("docs/stats.schema.json", ROOT);
const TYPE = "MachineStats";

/** The part of `deno doc --json` output this generator reads. */
interface DocType {
  kind: string;
  repr?: string;
  value?: unknown;
  typeRef?: { typeName: string };
}
interface DocProp {
  name: string;
  optional?: boolean;
  jsDoc?: { doc?: string };
  tsType?: DocType;
}
interface DocSymbol {
  name: string;
  declarations: { kind: string; jsDoc?: { doc?: string }; def?: { properties?: DocProp[] } }[];
}

/** A JSON Schema node (the subset this generator emits). */
export type Schema = Record<string, unknown>;

/** One line of prose from a doc comment: `{@linkcode X}` becomes `X`, newlines spaces. */
function prose(doc: string | undefined): string | undefined {
  if (doc === undefined) return undefined;
  return doc.replace(/\{@link(?:code)? ([^}]+)\}/g, "$1").replace(/\s+/g, " ").trim();
}

function convert(t: DocType | undefined, where: string, types: Map<string, DocSymbol>): Schema {
  if (t === undefined) throw new Error(`${where}: no type`);
  switch (t.kind) {
    case "keyword":
      if (t.value === "number") return { type: "integer", minimum: 0 };
      if (t.value === "string") return { type: "string" };
      if (t.value === "boolean") return { type: "boolean" };
      break;
    case "literal": {
      const lit = t.value as { kind: string; number?: number; string?: string };
      if (lit.kind === "number") return { const: lit.number };
      if (lit.kind === "string") return { const: lit.string };
      break;
    }
    case "array":
      return { type: "array", items: convert(t.value as DocType, `${where}[]`, types) };
    case "typeLiteral":
      return object((t.value as { properties: DocProp[] }).properties, where, types);
    case "typeRef": {
      const ref = types.get((t.value as { typeName: string }).typeName);
      const decl = ref?.declarations.find((d) => d.kind === "interface");
      if (decl?.def?.properties) return object(decl.def.properties, where, types);
      break;
    }
  }
  throw new Error(`${where}: no schema rule for a ${t.kind} type (${t.repr ?? "?"})`);
}

function object(props: DocProp[], where: string, types: Map<string, DocSymbol>): Schema {
  const properties: Record<string, Schema> = {};
  for (const p of props) {
    const s = convert(p.tsType, `${where}.${p.name}`, types);
    const description = prose(p.jsDoc?.doc);
    properties[p.name] = description === undefined ? s : { description, ...s };
  }
  return {
    type: "object",
    properties,
    required: props.filter((p) => !p.optional).map((p) => p.name),
    additionalProperties: false,
  };
}

/** The schema of MachineStats, from the source as it is now. */
export async function statsSchema(): Promise<Schema> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", SOURCE.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno doc failed: ${new TextDecoder().decode(out.stderr)}`);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols: DocSymbol[] }>;
  };
  const symbols = Object.values(doc.nodes).flatMap((n) => n.symbols);
  const types = new Map(symbols.map((s) => [s.name, s]));
  const root = types.get(TYPE)?.declarations.find((d) => d.kind === "interface");
  if (root?.def?.properties === undefined) throw new Error(`${TYPE} not found in ${SOURCE}`);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: TYPE,
    description: prose(root.jsDoc?.doc),
    ...object(root.def.properties, TYPE, types),
  };
}

/** The schema as the file holds it: two-space JSON and a final newline. */
export const schemaText = (s: Schema): string => JSON.stringify(s, null, 2) + "\n";

if (import.meta.main) {
  const text = schemaText(await statsSchema());
  if (Deno.args.includes("--check")) {
    let old = "";
    try {
      old = Deno.readTextFileSync(SCHEMA_PATH);
    } catch { /* missing: out of date */ }
    if (old !== text) {
      console.error("docs/stats.schema.json is out of date: run deno task schema");
      Deno.exit(1);
    }
  } else {
    Deno.writeTextFileSync(SCHEMA_PATH, text);
    console.error(`wrote ${SCHEMA_PATH.pathname}`);
  }
}
