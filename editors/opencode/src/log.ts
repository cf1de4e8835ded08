// Logging into OpenCode's own log (`client.app.log`), never to stdout. With
// OPENCODE_ORCHESTRATOR_DEBUG=1 every line is also printed on stderr (the only output when the
// client has no `app.log`).

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** What the logger needs of the SDK client (`client.app.log`). */
export interface AppLogClient {
  app?: {
    log?: (options: {
      body: { service: string; level: LogLevel; message: string; extra?: Record<string, unknown> };
    }) => unknown;
  };
}

export const SERVICE = "opencode-orchestrator";

export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.OPENCODE_ORCHESTRATOR_DEBUG;
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

export function createLogger(client: AppLogClient | undefined, env: NodeJS.ProcessEnv = process.env): Logger {
  const toStderr = debugEnabled(env);
  const appLog = typeof client?.app?.log === "function" ? client.app.log.bind(client.app) : undefined;
  const write = (level: LogLevel, message: string, extra?: Record<string, unknown>): void => {
    if (toStderr) {
      const tail = extra && Object.keys(extra).length > 0 ? ` ${safeJson(extra)}` : "";
      console.error(`[${SERVICE}] ${level}: ${message}${tail}`);
    }
    if (!appLog) return;
    try {
      const body = extra ? { service: SERVICE, level, message, extra } : { service: SERVICE, level, message };
      const p = appLog({ body });
      if (p && typeof (p as Promise<unknown>).catch === "function") (p as Promise<unknown>).catch(() => undefined);
    } catch {
      // logging must never break the plugin
    }
  };
  return {
    debug: (m, e) => write("debug", m, e),
    info: (m, e) => write("info", m, e),
    warn: (m, e) => write("warn", m, e),
    error: (m, e) => write("error", m, e),
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
