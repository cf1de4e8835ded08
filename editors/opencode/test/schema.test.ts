// JSON Schema to zod: every schema the server serves, and the translation rules one by one.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { z } from "zod";

import { OrchestratorServer } from "../src/server.js";
import { propertyToZod, toZodObject, toZodShape } from "../src/schema.js";
import { isolatedEnv, scriptedConfig, serverBin, silentLogger, tempWorkspace } from "./helpers.js";

type ServedTool = { name: string; description: string; inputSchema: { properties: Record<string, Record<string, unknown>>; required?: string[] } };

/** Arguments each served tool must accept, and ones it must refuse. */
const CASES: Record<string, { good: Array<Record<string, unknown>>; bad: Array<Record<string, unknown>> }> = {
  delegate_task: {
    good: [
      { agent: "builder", description: "add a toggle", prompt: "Add it." },
      { agent: "builder", description: "d", prompt: "p", background: false, priority: -100, model: "a/b", resume: "tsk_1" },
    ],
    bad: [
      { description: "d", prompt: "p" },
      { agent: "", description: "d", prompt: "p" },
      { agent: "builder", description: "x".repeat(201), prompt: "p" },
      { agent: "builder", description: "d", prompt: "p", priority: 101 },
      { agent: "builder", description: "d", prompt: "p", priority: 1.5 },
      { agent: "builder", description: "d", prompt: "p", background: "no" },
      { agent: "builder", description: "d", prompt: "p", extra: 1 },
    ],
  },
  get_task_result: {
    good: [{ taskId: "tsk_1" }, { taskId: "tsk_1", waitMs: 25_000 }, { taskId: "t", waitMs: 0 }],
    bad: [{}, { taskId: "" }, { taskId: "t", waitMs: -1 }, { taskId: "t", waitMs: 600_001 }, { taskId: 5 }],
  },
  list_tasks: {
    good: [{}, { status: ["running", "queued"], agent: "builder", all: true, limit: 200 }],
    bad: [{ status: ["sleeping"] }, { status: "running" }, { limit: 0 }, { limit: 201 }, { all: 1 }],
  },
  cancel_task: {
    good: [{ taskId: "tsk_1" }],
    bad: [{}, { taskId: "" }, { taskId: "tsk_1", force: true }],
  },
};

describe("schemas served by the server", () => {
  let server: OrchestratorServer;
  let tools: ServedTool[] = [];
  before(async () => {
    const ws = tempWorkspace();
    server = new OrchestratorServer({
      bin: serverBin(),
      args: ["serve", "--standalone"],
      cwd: ws,
      env: isolatedEnv(ws),
      initializationOptions: { workspaceRoot: ws, bridge: false, config: scriptedConfig(ws) },
      logger: silentLogger,
    });
    await server.start();
    tools = (await server.request<{ tools: ServedTool[] }>("orchestrator/tools/list", {})).tools;
  });
  after(() => server.stop());

  test("the task tools are served and have test cases", () => {
    const served = tools.map((t) => t.name);
    for (const name of Object.keys(CASES)) assert.ok(served.includes(name), name);
  });

  test("every served tool's schema converts, and an empty call is refused exactly when fields are required", () => {
    for (const t of tools) {
      const schema = toZodObject(t.inputSchema);
      const required = (t.inputSchema.required ?? []).length > 0;
      assert.equal(schema.safeParse({}).success, !required, `${t.name} with no arguments`);
    }
  });

  test("valid arguments pass, bad ones are refused", () => {
    for (const t of tools) {
      const schema = toZodObject(t.inputSchema);
      const cases = CASES[t.name];
      if (!cases) continue;
      for (const args of cases.good) assert.ok(schema.safeParse(args).success, `${t.name} accepts ${JSON.stringify(args)}`);
      for (const args of cases.bad) assert.equal(schema.safeParse(args).success, false, `${t.name} refuses ${JSON.stringify(args)}`);
    }
  });

  test("defaults are applied and the server accepts the result", async () => {
    for (const t of tools) {
      const cases = CASES[t.name];
      if (!cases) continue;
      for (const args of cases.good) {
        const parsed = toZodObject(t.inputSchema).parse(args) as Record<string, unknown>;
        for (const [name, prop] of Object.entries(t.inputSchema.properties)) {
          if (prop.default !== undefined && args[name] === undefined) assert.deepEqual(parsed[name], prop.default, `${t.name}.${name}`);
        }
      }
    }
    // arguments as OpenCode hands them over (defaults filled in) pass the server's own check
    const args = toZodObject(tools.find((t) => t.name === "list_tasks")?.inputSchema).parse({}) as Record<string, unknown>;
    const r = await server.request<{ output: string }>("orchestrator/tools/call", { name: "list_tasks", arguments: args, context: { sessionId: "ses_x" } });
    assert.equal(typeof r.output, "string");
  });

  test("OpenCode's JSON Schema for the model keeps descriptions, defaults, bounds and required", () => {
    for (const t of tools) {
      // OpenCode converts the shape with zod in "input" mode (measured with 1.18.33)
      const back = z.toJSONSchema(z.object(toZodShape(t.inputSchema)), { io: "input" }) as {
        properties: Record<string, Record<string, unknown>>;
        required?: string[];
      };
      assert.deepEqual((back.required ?? []).sort(), (t.inputSchema.required ?? []).sort(), `${t.name} required`);
      for (const [name, prop] of Object.entries(t.inputSchema.properties)) {
        const got = back.properties[name];
        assert.ok(got, `${t.name}.${name}`);
        for (const key of ["description", "default", "type", "minLength", "maxLength", "enum"] as const) {
          if (prop[key] !== undefined) assert.deepEqual(got[key], prop[key], `${t.name}.${name}.${key}`);
        }
        for (const key of ["minimum", "maximum"] as const) {
          const v = prop[key];
          if (typeof v === "number" && Math.abs(v) < Number.MAX_SAFE_INTEGER) assert.equal(got[key], v, `${t.name}.${name}.${key}`);
        }
        const items = prop.items as { oneOf?: unknown[] } | undefined;
        if (items?.oneOf) {
          // zod writes a union as anyOf; for a model the variants are what matter.
          const back = got.items as { anyOf?: unknown[]; description?: unknown };
          assert.equal(back.anyOf?.length, items.oneOf.length, `${t.name}.${name}.items variants`);
        } else if (items) {
          assert.deepEqual(got.items, items, `${t.name}.${name}.items`);
        }
      }
    }
  });
});

describe("schema translation rules", () => {
  const ok = (t: z.ZodType, v: unknown) => t.safeParse(v).success;

  test("strings, numbers, integers, booleans with their bounds", () => {
    const s = propertyToZod({ type: "string", minLength: 2, maxLength: 3 }, true);
    assert.deepEqual([ok(s, "a"), ok(s, "ab"), ok(s, "abc"), ok(s, "abcd"), ok(s, 1)], [false, true, true, false, false]);
    const i = propertyToZod({ type: "integer", minimum: -1, maximum: 1 }, true);
    assert.deepEqual([ok(i, -2), ok(i, -1), ok(i, 1), ok(i, 0.5), ok(i, "1")], [false, true, true, false, false]);
    const n = propertyToZod({ type: "number", exclusiveMinimum: 0, maximum: 1 }, true);
    assert.deepEqual([ok(n, 0), ok(n, 0.5), ok(n, 1), ok(n, 1.1)], [false, true, true, false]);
    const b = propertyToZod({ type: "boolean" }, true);
    assert.deepEqual([ok(b, true), ok(b, "true")], [true, false]);
    const big = propertyToZod({ type: "integer", format: "uint64", minimum: 0, maximum: 1.8446744073709552e19 }, true);
    assert.deepEqual([ok(big, 0), ok(big, 2 ** 40), ok(big, -1)], [true, true, false]);
  });

  test("enums and arrays of strings or enums", () => {
    const e = propertyToZod({ enum: ["a", "b"] }, true);
    assert.deepEqual([ok(e, "a"), ok(e, "c")], [true, false]);
    const typed = propertyToZod({ type: "string", enum: ["x"] }, true);
    assert.deepEqual([ok(typed, "x"), ok(typed, "y")], [true, false]);
    const a = propertyToZod({ type: "array", items: { type: "string", minLength: 1 }, minItems: 1 }, true);
    assert.deepEqual([ok(a, ["x"]), ok(a, []), ok(a, [""]), ok(a, "x")], [true, false, false, false]);
    const ae = propertyToZod({ type: "array", items: { enum: ["p", "q"] } }, true);
    assert.deepEqual([ok(ae, ["p", "q"]), ok(ae, ["r"])], [true, false]);
  });

  test("optional, default, nullable and description", () => {
    const opt = propertyToZod({ type: "string", description: "maybe" }, false);
    assert.ok(ok(opt, undefined));
    assert.equal(opt.description, "maybe");
    const def = propertyToZod({ type: "boolean", default: true, description: "d" }, false);
    assert.equal(def.parse(undefined), true);
    assert.equal(def.description, "d");
    const badDefault = propertyToZod({ type: "integer", minimum: 1, default: 0 }, false);
    assert.equal(badDefault.parse(undefined), undefined, "a default the schema refuses is not applied");
    const nullable = propertyToZod({ type: ["string", "null"] }, true);
    assert.deepEqual([ok(nullable, null), ok(nullable, "s"), ok(nullable, 1)], [true, true, false]);
  });

  test("anything else becomes z.any() with its description", () => {
    for (const schema of [
      { anyOf: [{ type: "string" }, { type: "integer" }], description: "union" },
      { oneOf: [{ type: "string" }, { type: "object", properties: {} }], description: "mixed oneOf" },
      { type: "array", items: { type: "object" }, description: "objects" },
      { type: ["string", "integer"], description: "two types" },
      { enum: [1, 2], description: "numbers" },
      { $ref: "#/$defs/X", description: "ref" },
    ]) {
      const t = propertyToZod(schema, true);
      assert.ok(ok(t, { anything: [1] }) && ok(t, 3), JSON.stringify(schema));
      assert.equal(t.description, schema.description);
    }
    assert.ok(ok(propertyToZod(undefined, false), undefined));
  });

  test("nested objects, arrays of objects and tagged unions (plan_edit's edits)", () => {
    const edits = propertyToZod(
      {
        type: "array",
        minItems: 1,
        description: "edits",
        items: {
          oneOf: [
            {
              type: "object",
              description: "Add an item.",
              additionalProperties: false,
              properties: {
                op: { type: "string", const: "add" },
                id: { type: "string" },
                dependsOn: { type: "array", items: { type: "string" } },
              },
              required: ["op", "id"],
            },
            {
              type: "object",
              additionalProperties: false,
              properties: { op: { type: "string", const: "remove" }, id: { type: "string" } },
              required: ["op", "id"],
            },
          ],
        },
      },
      true,
    );
    assert.equal(edits.description, "edits");
    assert.ok(ok(edits, [{ op: "add", id: "a", dependsOn: ["b"] }, { op: "remove", id: "b" }]));
    assert.ok(!ok(edits, []), "minItems");
    assert.ok(!ok(edits, [{ op: "rename", id: "a" }]), "unknown tag");
    assert.ok(!ok(edits, [{ op: "remove" }]), "missing id");
    assert.ok(!ok(edits, [{ op: "remove", id: "a", extra: 1 }]), "strict variant");
    const fixes = propertyToZod(
      {
        type: "array",
        items: {
          type: "object",
          properties: { title: { type: "string" }, agent: { type: "string" } },
          required: ["title"],
        },
      },
      false,
    );
    assert.ok(ok(fixes, [{ title: "t" }, { title: "u", agent: "builder" }]));
    assert.ok(!ok(fixes, [{ agent: "builder" }]));
    assert.ok(ok(fixes, undefined));
  });

  test("shapes: required, unknown properties, non-object schemas", () => {
    const schema = {
      type: "object",
      properties: { a: { type: "string" }, b: { type: "integer" } },
      required: ["a"],
      additionalProperties: false,
    };
    assert.deepEqual(Object.keys(toZodShape(schema)), ["a", "b"]);
    const strict = toZodObject(schema);
    assert.ok(ok(strict, { a: "x" }));
    assert.ok(!ok(strict, { b: 1 }));
    assert.ok(!ok(strict, { a: "x", c: 1 }));
    assert.ok(ok(toZodObject({ ...schema, additionalProperties: true }), { a: "x", c: 1 }));
    assert.deepEqual(toZodShape(null), {});
    assert.deepEqual(toZodShape({ type: "string" }), {});
  });
});
