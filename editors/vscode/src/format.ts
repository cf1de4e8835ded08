// Short figures for the tree: durations and token counts.

/** `0.3s`, `4.2s`, `12s`, `2m 5s`, `1h 3m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** `950 tok`, `12.3k tok`, `1.2M tok`. */
export function formatTokens(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1000) return `${Math.round(n)} tok`;
  if (n < 1_000_000) return `${trim(n / 1000)}k tok`;
  return `${trim(n / 1_000_000)}M tok`;
}

function trim(v: number): string {
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, "");
}

/** `$0.0123`, `$1.50`. */
export function formatCost(cost: number): string {
  if (!Number.isFinite(cost) || cost <= 0) return "";
  return cost < 0.1 ? `$${cost.toFixed(4)}` : `$${cost.toFixed(2)}`;
}

export function tokensOf(u: { inputTokens?: number; outputTokens?: number; reasoningTokens?: number; tokens?: number } | undefined): number | undefined {
  if (!u) return undefined;
  if (typeof u.tokens === "number") return u.tokens;
  const sum = (u.inputTokens ?? 0) + (u.outputTokens ?? 0) + (u.reasoningTokens ?? 0);
  return sum;
}

/** The first line of a text, cut to `max` characters. */
export function firstLine(text: string, max = 80): string {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
