// JSON Schema (as `orchestrator/tools/list` serves it) to the zod shapes OpenCode's `tool()`
// expects. Only what tool arguments need is translated: an object's properties of type string,
// integer, number, boolean, a string `const`, an enum, a nested object, an array of any of
// those, and a `oneOf` of objects (a tagged union such as plan_edit's edits); with `required`,
// `description`, `default`, `minimum`/`maximum`, `minLength`/`maxLength`,
// `minItems`/`maxItems`. Anything else becomes `z.any()` with its description kept, and the
// server checks it.
//
// OpenCode turns the shape back into JSON Schema for the model in "input" mode: a property with
// a default is optional there and shows its `default`, and descriptions are kept (measured with
// OpenCode 1.18.33).

import { tool } from "@opencode-ai/plugin";
import type { ZodType } from "zod";

const z = tool.schema;

export type ZodShape = Record<string, ZodType>;

interface JsonSchema {
  type?: unknown;
  properties?: unknown;
  required?: unknown;
  description?: unknown;
  default?: unknown;
  enum?: unknown;
  items?: unknown;
  minimum?: unknown;
  maximum?: unknown;
  exclusiveMinimum?: unknown;
  exclusiveMaximum?: unknown;
  minLength?: unknown;
  maxLength?: unknown;
  minItems?: unknown;
  maxItems?: unknown;
  additionalProperties?: unknown;
  const?: unknown;
  oneOf?: unknown;
}

/** Nesting deeper than this is left to the server (z.any()). */
const MAX_DEPTH = 6;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const count = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;

/** The schema's type, with `["x", "null"]` read as a nullable `x`. */
function typeOf(s: JsonSchema): { type: string | undefined; nullable: boolean } {
  if (typeof s.type === "string") return { type: s.type, nullable: false };
  if (Array.isArray(s.type)) {
    const types = s.type.filter((t): t is string => typeof t === "string");
    const nonNull = types.filter((t) => t !== "null");
    if (nonNull.length === 1 && types.length === s.type.length) {
      return { type: nonNull[0], nullable: nonNull.length < types.length };
    }
    return { type: "unsupported", nullable: false };
  }
  return { type: undefined, nullable: false };
}

/** A scalar (string, integer, number, boolean, string enum); undefined when unsupported. */
function scalar(s: JsonSchema): ZodType | undefined {
  if (typeof s.const === "string") return z.literal(s.const);
  if (s.enum !== undefined) {
    if (Array.isArray(s.enum) && s.enum.length > 0 && s.enum.every((v) => typeof v === "string")) {
      return z.enum(s.enum as [string, ...string[]]);
    }
    return undefined;
  }
  const { type } = typeOf(s);
  switch (type) {
    case "string": {
      let t = z.string();
      const min = count(s.minLength);
      const max = count(s.maxLength);
      if (min !== undefined) t = t.min(min);
      if (max !== undefined) t = t.max(max);
      return t;
    }
    case "integer":
    case "number": {
      let t = type === "integer" ? z.number().int() : z.number();
      const min = num(s.minimum);
      const max = num(s.maximum);
      const xmin = num(s.exclusiveMinimum);
      const xmax = num(s.exclusiveMaximum);
      // zod's int() already stops at the safe-integer range; wider bounds (uint64) add nothing.
      if (min !== undefined && !(type === "integer" && min <= Number.MIN_SAFE_INTEGER)) t = t.min(min);
      if (max !== undefined && !(type === "integer" && max >= Number.MAX_SAFE_INTEGER)) t = t.max(max);
      if (xmin !== undefined) t = t.gt(xmin);
      if (xmax !== undefined) t = t.lt(xmax);
      return t;
    }
    case "boolean":
      return z.boolean();
    default:
      return undefined;
  }
}

/** An object with properties, strict when the schema forbids others. */
function objectSchema(s: JsonSchema, depth: number): ZodType | undefined {
  if (!isObject(s.properties) || depth > MAX_DEPTH) return undefined;
  const obj = z.object(shapeOf(s, depth + 1));
  return s.additionalProperties === false ? obj.strict() : obj;
}

/** A `oneOf` whose every variant is an object: a union of those objects. */
function unionSchema(s: JsonSchema, depth: number): ZodType | undefined {
  if (!Array.isArray(s.oneOf) || s.oneOf.length === 0) return undefined;
  const variants: ZodType[] = [];
  for (const v of s.oneOf) {
    let variant = isObject(v) ? objectSchema(v, depth) : undefined;
    if (!variant) return undefined;
    if (isObject(v) && typeof v.description === "string") variant = variant.describe(v.description);
    variants.push(variant);
  }
  return variants.length === 1 ? variants[0] : z.union(variants as [ZodType, ZodType, ...ZodType[]]);
}

/** One array item's schema, any supported kind, with its description. */
function anySchema(s: JsonSchema, depth: number): ZodType | undefined {
  const { type } = typeOf(s);
  let t: ZodType | undefined;
  if (s.oneOf !== undefined) t = unionSchema(s, depth);
  else if (type === "object" && isObject(s.properties)) t = objectSchema(s, depth);
  else if (type === "array") t = valueSchema(s, depth);
  else t = scalar(s);
  if (t && typeof s.description === "string") t = t.describe(s.description);
  return t;
}

/** One property's schema, before optional/default/description. */
function valueSchema(s: JsonSchema, depth = 0): ZodType | undefined {
  const { type, nullable } = typeOf(s);
  let t: ZodType | undefined;
  if (s.oneOf !== undefined) {
    t = unionSchema(s, depth);
  } else if (type === "object" && isObject(s.properties)) {
    t = objectSchema(s, depth);
  } else if (type === "array" && s.enum === undefined) {
    const items = isObject(s.items) && depth <= MAX_DEPTH ? anySchema(s.items, depth + 1) : undefined;
    if (!items) return undefined;
    let a = z.array(items);
    const min = count(s.minItems);
    const max = count(s.maxItems);
    if (min !== undefined) a = a.min(min);
    if (max !== undefined) a = a.max(max);
    t = a;
  } else if (type === "object" && s.properties === undefined && isObject(s.additionalProperties)) {
    // A map, such as environment variables: string keys, values of one scalar schema.
    const values = scalar(s.additionalProperties);
    if (!values) return undefined;
    t = z.record(z.string(), values);
  } else {
    t = scalar(s);
  }
  if (t && nullable) t = t.nullable();
  return t;
}

/** The zod schema of one object property. */
export function propertyToZod(schema: unknown, required: boolean, depth = 0): ZodType {
  const s: JsonSchema = isObject(schema) ? schema : {};
  const description = typeof s.description === "string" ? s.description : undefined;
  let t: ZodType = valueSchema(s, depth) ?? z.any();
  if (!required) {
    // A default the schema itself refuses would fail every call that leaves the field out.
    t = s.default !== undefined && t.safeParse(s.default).success ? t.default(s.default as never) : t.optional();
  }
  if (description !== undefined) t = t.describe(description);
  return t;
}

function shapeOf(schema: JsonSchema, depth: number): ZodShape {
  if (!isObject(schema.properties)) return {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : []);
  const shape: ZodShape = {};
  for (const [name, prop] of Object.entries(schema.properties)) {
    shape[name] = propertyToZod(prop, required.has(name), depth);
  }
  return shape;
}

/** The zod shape (`tool({ args })`) of an object schema. Non-object schemas give `{}`. */
export function toZodShape(schema: unknown): ZodShape {
  if (!isObject(schema) || !isObject(schema.properties)) return {};
  return shapeOf(schema, 0);
}

/** The whole object schema as zod, strict when the schema forbids other properties (tests). */
export function toZodObject(schema: unknown): ZodType {
  const obj = z.object(toZodShape(schema));
  return isObject(schema) && schema.additionalProperties === false ? obj.strict() : obj;
}
