// The markdown document "Open Task Result" shows for a task record (`orchestrator/task/get`).

import { formatCost, formatDuration, formatTokens, tokensOf } from "./format";
import type { TaskRecord } from "./protocol";

export function taskDocument(t: TaskRecord): string {
  const rows: Array<[string, string]> = [
    ["Task", `\`${t.id}\``],
    ["Agent", t.agent],
    ["Status", t.status],
  ];
  if (t.missionId) rows.push(["Mission", `\`${t.missionId}\`${t.planItem ? `, plan item \`${t.planItem}\`` : ""}`]);
  const duration = typeof t.durationMs === "number" ? t.durationMs : t.startedAt && t.finishedAt ? t.finishedAt - t.startedAt : undefined;
  if (duration !== undefined) rows.push(["Duration", formatDuration(duration)]);
  if (t.usage) {
    const u = t.usage;
    const cost = formatCost(u.cost ?? 0);
    rows.push([
      "Tokens",
      `${formatTokens(tokensOf(u) ?? 0)} (input ${u.inputTokens ?? 0}, output ${u.outputTokens ?? 0}, reasoning ${u.reasoningTokens ?? 0})${cost ? `, ${cost}` : ""}`,
    ]);
  }
  if (t.model) rows.push(["Model", t.model]);
  if (t.sessionId) rows.push(["Session", `\`${t.sessionId}\``]);
  if (t.startedAt) rows.push(["Started", new Date(t.startedAt).toISOString()]);
  if (t.finishedAt) rows.push(["Finished", new Date(t.finishedAt).toISOString()]);

  const out = [`# ${t.description.replace(/\r?\n/g, " ")}`, "", "| | |", "|---|---|"];
  for (const [k, v] of rows) out.push(`| ${k} | ${v.replace(/\|/g, "\\|")} |`);
  out.push("");
  if (t.error) out.push("## Error", "", t.error, "");
  if (t.result) out.push("## Result", "", t.result, "");
  else if (!t.error) out.push("## Result", "", t.status === "queued" || t.status === "running" ? `_No result yet: the task is ${t.status}._` : "_The task gave no result._", "");
  if (t.reasoning) out.push("## Reasoning", "", t.reasoning, "");
  if (t.prompt) out.push("## Prompt", "", fence(t.prompt), "");
  return out.join("\n");
}

/** A fenced block that the text cannot close early. */
function fence(text: string): string {
  let ticks = "```";
  while (text.includes(ticks)) ticks += "`";
  return `${ticks}text\n${text}\n${ticks}`;
}
