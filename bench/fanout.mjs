// Fan-out benchmark against a real `opencode serve` with the scripted model (tests/e2e harness).
// Not a test: it prints figures and never asserts on them.
//
//   cargo build --release && (cd tests/e2e && npm ci) && node bench/fanout.mjs [--tasks 50] [--reply-ms 1000]
//
// For each cap (10 per agent, then 50): N background tasks to one agent, each answered by the
// model after --reply-ms. Reports the wall time until every result is readable, how many
// child sessions OpenCode really ran at once, and a per-task breakdown:
//   prompt -> model request    (OpenCode: prompt_async to the model call)
//   model reply -> idle        (OpenCode: the reply finished to session.idle on /event)
//   idle -> task.completed     (ours: OpenCode's idle to the event at our client)
//   completed -> parent notice (ours: to the notice reaching the parent's model)
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const lib = (f) => path.join(here, "../tests/e2e/lib", f);
const { startFakeModel, lastUserText } = await import(lib("fake-model.mjs"));
const { startOpencodeServe, createSession } = await import(lib("opencode.mjs"));
process.env.OPENCODE_ORCHESTRATOR_BIN ??= path.join(here, "../target/release/opencode-orchestrator");
const { startOrchestrator, agentConfig } = await import(lib("orchestrator.mjs"));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const tasks = arg("--tasks", 50);
const replyMs = arg("--reply-ms", 1000);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))] : NaN;
};
const fmt = (xs) => `p50 ${pct(xs, 0.5).toFixed(1)}  p90 ${pct(xs, 0.9).toFixed(1)}  p99 ${pct(xs, 0.99).toFixed(1)}  max ${Math.max(...xs).toFixed(1)}`;

const model = await startFakeModel();
const oc = await startOpencodeServe({ modelPort: model.port, config: { agent: await agentConfig() } });
// Warm OpenCode up (its first prompt loads plugins and providers).
{
  const warm = await startOrchestrator({ workspaceRoot: oc.dir, opencodeUrl: oc.url });
  const r = await warm.tool("delegate_task", { agent: "builder", description: "warm up", prompt: "warm up" });
  await warm.taskEvent("task.completed", r.metadata.task.taskId);
  await warm.stop();
}

const results = [];
for (const cap of [10, 50]) {
  const orch = await startOrchestrator({
    workspaceRoot: oc.dir,
    opencodeUrl: oc.url,
    config: { scheduler: { maxPerAgent: cap }, events: { clientQueue: 100000 } },
  });
  const parent = await createSession(oc.client, { title: `bench parent cap ${cap}` });
  const tag = `cap${cap}`;
  model.on((b) => lastUserText(b).startsWith(`${tag} task `), { text: "done", delayMs: replyMs });
  model.on((b) => lastUserText(b).includes("[opencode-orchestrator]"), { text: "ok" });
  const ocFrom = oc.events.length;
  const modelFrom = model.requests.length;
  const t0 = Date.now();
  const ids = [];
  await Promise.all(
    Array.from({ length: tasks }, async (_, i) => {
      const r = await orch.tool(
        "delegate_task",
        { agent: "builder", description: `bench ${i}`, prompt: `${tag} task ${i}` },
        { sessionId: parent.id, agent: "build" },
      );
      ids.push(r.metadata.task.taskId);
    }),
  );
  for (const id of ids) await orch.taskEvent("task.completed", id, { timeoutMs: 600_000 });
  const wall = Date.now() - t0;
  // Every result reaches the parent (in as few messages as the parent's turns allow).
  const noticed = new Set();
  await orch.waitForEvent(
    (e) => {
      if (e.type === "notice.delivered" && e.data.parentSessionId === parent.id) e.data.taskIds.forEach((id) => noticed.add(id));
      return noticed.size >= ids.length;
    },
    { timeoutMs: 120_000 },
  );

  // Per task: session id, prompt time (task.started), model request and reply, idle, completed.
  const byTask = new Map();
  for (const e of orch.events) {
    if (!ids.includes(e.data?.taskId)) continue;
    const t = byTask.get(e.data.taskId) ?? {};
    if (e.type === "task.started") (t.started = e.time), (t.session = e.data.sessionId);
    if (e.type === "task.completed") t.completedAt = e.receivedAt ?? e.time;
    byTask.set(e.data.taskId, t);
  }
  const sessionOf = new Map([...byTask.values()].map((t) => [t.session, t]));
  let busy = 0;
  let mostBusy = 0;
  for (const e of oc.events.slice(ocFrom)) {
    const sid = e.properties?.sessionID;
    const t = sessionOf.get(sid);
    if (!t) continue;
    if (e.type === "session.status" && e.properties.status?.type === "busy" && !t.busySince) {
      t.busySince = e.receivedAt;
      mostBusy = Math.max(mostBusy, ++busy);
    }
    if (e.type === "session.idle" && !t.idleAt) {
      t.idleAt = e.receivedAt;
      busy--;
    }
  }
  const toModel = [];
  const replyToIdle = [];
  const idleToEvent = [];
  for (const [, t] of byTask) {
    if (t.idleAt && t.completedAt) idleToEvent.push(t.completedAt - t.idleAt);
  }
  // Model request times, matched to tasks by their prompt text.
  const idByPrompt = new Map();
  for (const e of orch.events) if (e.type === "task.queued" && ids.includes(e.data.taskId)) idByPrompt.set(e.data.description.replace("bench ", `${tag} task `), e.data.taskId);
  for (const r of model.requests.slice(modelFrom)) {
    const id = idByPrompt.get(lastUserText(r.body));
    const t = id && byTask.get(id);
    if (!t || t.modelAt) continue;
    t.modelAt = r.time;
    toModel.push(r.time - t.started);
    if (t.idleAt) replyToIdle.push(t.idleAt - (r.time + replyMs));
  }
  const delivered = orch.events.filter((e) => e.type === "notice.delivered" && e.data.parentSessionId === parent.id);
  const noticeLag = [];
  for (const d of delivered) for (const id of d.data.taskIds) { const t = byTask.get(id); if (t?.completedAt) noticeLag.push((d.receivedAt ?? d.time) - t.completedAt); }
  results.push({ cap, wall, mostBusy, toModel, replyToIdle, idleToEvent, noticeLag, notices: delivered.length });
  await orch.stop();
}

console.log(`fan-out: ${tasks} background tasks to one agent, model reply ${replyMs} ms, OpenCode ${oc.config?.version ?? ""}`);
for (const r of results) {
  console.log(`\ncap ${r.cap} per agent: all results readable after ${(r.wall / 1000).toFixed(2)} s; most child sessions busy at once in OpenCode: ${r.mostBusy}; parent woken in ${r.notices} message(s)`);
  console.log(`  prompt -> model request (ms)      ${fmt(r.toModel)}`);
  console.log(`  model reply -> session.idle (ms)  ${fmt(r.replyToIdle)}`);
  console.log(`  idle -> task.completed (ms)       ${fmt(r.idleToEvent)}`);
  console.log(`  completed -> notice sent (ms)     ${fmt(r.noticeLag)}`);
}
await oc.stop();
await model.close();
