// Protocol tests for `opencode-orchestrator serve`, driven by vscode-jsonrpc: an LSP-framed
// JSON-RPC client written independently of this project, so framing, ids and error objects
// are checked by someone else's reading of the spec.
//
// The binary comes from OPENCODE_ORCHESTRATOR_BIN, else ../../target/debug/opencode-orchestrator
// (relative to this file). Run with `npm test` in this directory after `cargo build`.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createMessageConnection,
  ErrorCodes,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.OPENCODE_ORCHESTRATOR_BIN
  ? resolve(process.env.OPENCODE_ORCHESTRATOR_BIN)
  : resolve(HERE, '../../target/debug/opencode-orchestrator');

/** Per-test budget; every await inside a test is also bounded by `within`. */
const TEST_TIMEOUT_MS = 30_000;
/** Budget for one request or one awaited event. */
const STEP_MS = 10_000;

const TASK_TOOLS = ['delegate_task', 'get_task_result', 'list_tasks', 'cancel_task'];

/** Children still alive, killed if the file ends early for any reason. */
const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
after(() => {
  for (const child of live) child.kill('SIGKILL');
});

/** Rejects if `promise` has not settled within `ms`; never leaves a timer behind. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Spawns `serve` on a fresh temporary workspace and connects vscode-jsonrpc to its stdio.
 * The returned object's `dispose()` kills the child if it is still running and deletes the
 * workspace; tests register it with `t.after` so a failing test never leaves a process behind.
 */
function startServer() {
  assert.ok(
    existsSync(BIN),
    `server binary not found at ${BIN}: run \`cargo build\` in the repository root ` +
      'or set OPENCODE_ORCHESTRATOR_BIN',
  );
  const dir = mkdtempSync(join(tmpdir(), 'oo-node-test-'));
  const workspace = join(dir, 'ws');
  const xdg = join(dir, 'xdg'); // keeps any user-wide config of this machine out of the test
  mkdirSync(workspace);
  mkdirSync(xdg);

  const child = spawn(BIN, ['serve', '--standalone', '--log-file', join(dir, 'server.log')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, XDG_CONFIG_HOME: xdg },
  });
  live.add(child);

  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    if (stderr.length < 16_384) stderr += chunk;
  });
  // Writing after the server exited must fail the test through its assertions, not crash it.
  child.stdin.on('error', () => {});

  const exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolveExit({ code, signal });
    });
  });
  const spawnError = new Promise((_, reject) => child.once('error', reject));
  spawnError.catch(() => {}); // observed through `exited`/requests; avoid an unhandled rejection

  // vscode-jsonrpc reports protocol oddities it tolerates (a reply without an id, a message
  // that is neither request, reply nor notification) through its logger: keep them to assert on.
  const clientErrors = [];
  const logger = {
    error: (message) => clientErrors.push(String(message)),
    warn: (message) => clientErrors.push(String(message)),
    info: () => {},
    log: () => {},
  };
  const connection = createMessageConnection(
    new StreamMessageReader(child.stdout),
    new StreamMessageWriter(child.stdin),
    logger,
  );
  connection.listen();

  return {
    child,
    connection,
    workspace,
    exited,
    stderr: () => stderr,
    clientErrors,
    /** Sends a request and bounds the wait for its reply. */
    request(method, params) {
      const sent =
        params === undefined
          ? connection.sendRequest(method)
          : connection.sendRequest(method, params);
      return within(Promise.race([sent, spawnError]), STEP_MS, `reply to ${method}`);
    },
    async initialize(config) {
      const initializationOptions = {
        workspaceRoot: workspace,
        clientName: 'node-protocol-test',
      };
      if (config !== undefined) initializationOptions.config = config;
      const result = await this.request('initialize', {
        processId: process.pid,
        rootUri: null,
        capabilities: {},
        initializationOptions,
      });
      await within(connection.sendNotification('initialized', {}), STEP_MS, 'initialized');
      return result;
    },
    /** `shutdown` then `exit`; resolves with how the process ended: `{code, signal}`. */
    async shutdownAndExit() {
      assert.deepEqual(clientErrors, [], 'vscode-jsonrpc reported protocol errors');
      const result = await this.request('shutdown');
      assert.equal(result, null, 'shutdown result must be null');
      await within(connection.sendNotification('exit'), STEP_MS, 'exit notification');
      const { code, signal } = await within(exited, STEP_MS, 'process exit after `exit`');
      return { code, signal };
    },
    dispose() {
      connection.dispose();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      live.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Collects `orchestrator/event` notifications and lets a test wait for one. */
function collectEvents(connection) {
  const events = [];
  const waiters = [];
  connection.onNotification('orchestrator/event', (params) => {
    events.push(params);
    for (const w of [...waiters]) {
      if (w.match(params)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(params);
      }
    }
  });
  return {
    events,
    waitFor(match, what) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return within(
        new Promise((resolveEvent) => waiters.push({ match, resolve: resolveEvent })),
        STEP_MS,
        `event: ${what}`,
      );
    },
  };
}

test('initialize advertises the protocol, tools/list describes the task tools, clean exit', {
  timeout: TEST_TIMEOUT_MS,
}, async (t) => {
  const server = startServer();
  t.after(() => server.dispose());

  const init = await server.initialize();
  const orch = init?.capabilities?.experimental?.orchestrator;
  assert.ok(orch && typeof orch === 'object', `no capabilities.experimental.orchestrator in ${JSON.stringify(init)}`);
  assert.equal(orch.protocolVersion, 1);
  assert.ok(Array.isArray(orch.methods), 'methods must be an array');
  for (const m of ['orchestrator/tools/list', 'orchestrator/stats', 'orchestrator/task/delegate', 'orchestrator/task/get']) {
    assert.ok(orch.methods.includes(m), `method ${m} not advertised: ${JSON.stringify(orch.methods)}`);
  }
  assert.ok(Array.isArray(orch.tools), 'tools must be an array');
  for (const name of TASK_TOOLS) {
    assert.ok(orch.tools.includes(name), `tool ${name} not advertised: ${JSON.stringify(orch.tools)}`);
  }

  const listed = await server.request('orchestrator/tools/list', {});
  assert.ok(Array.isArray(listed?.tools), `tools/list result: ${JSON.stringify(listed)}`);
  const byName = new Map(listed.tools.map((tool) => [tool.name, tool]));
  assert.equal(byName.size, listed.tools.length, 'tool names must be unique');
  for (const name of TASK_TOOLS) {
    const tool = byName.get(name);
    assert.ok(tool, `tools/list lacks ${name}`);
    assert.equal(typeof tool.description, 'string');
    assert.ok(tool.description.length > 0, `${name} has an empty description`);
    const schema = tool.inputSchema;
    assert.ok(schema && typeof schema === 'object' && !Array.isArray(schema), `${name}: inputSchema is not an object`);
    assert.equal(schema.type, 'object', `${name}: inputSchema.type`);
    assert.ok(schema.properties && typeof schema.properties === 'object', `${name}: inputSchema.properties`);
    for (const key of schema.required ?? []) {
      assert.ok(key in schema.properties, `${name}: required \`${key}\` is not a property`);
    }
  }
  // What the capability advertises and what tools/list returns are the same set.
  assert.deepEqual([...byName.keys()].sort(), [...orch.tools].sort());

  const { code, signal } = await server.shutdownAndExit();
  assert.equal(signal, null, `server killed by ${signal}; stderr: ${server.stderr()}`);
  assert.equal(code, 0, `exit code; stderr: ${server.stderr()}`);
});

test('a delegated task runs on the scripted backend: ordered events, completed result, clean exit', {
  timeout: TEST_TIMEOUT_MS,
}, async (t) => {
  const server = startServer();
  t.after(() => server.dispose());
  const bus = collectEvents(server.connection);

  await server.initialize({ backend: 'scripted' });

  const prompt = 'write the release notes\nsecond line is not echoed';
  const delegated = await server.request('orchestrator/task/delegate', {
    agent: 'builder',
    description: 'release notes',
    prompt,
  });
  const task = delegated?.task;
  assert.ok(task && typeof task.id === 'string' && task.id.length > 0, `delegate result: ${JSON.stringify(delegated)}`);
  assert.equal(typeof task.status, 'string');

  const completed = await bus.waitFor(
    (e) => e.type === 'task.completed' && e.data?.taskId === task.id,
    `task.completed for ${task.id}`,
  );
  assert.equal(completed.data.status, 'completed');

  assert.ok(bus.events.length > 0);
  let previous = 0;
  for (const e of bus.events) {
    assert.ok(Number.isSafeInteger(e.seq) && e.seq > 0, `bad seq in ${JSON.stringify(e)}`);
    assert.ok(e.seq > previous, `seq not strictly increasing: ${previous} then ${e.seq}`);
    previous = e.seq;
    assert.equal(typeof e.time, 'number', `time in ${JSON.stringify(e)}`);
    assert.equal(typeof e.type, 'string', `type in ${JSON.stringify(e)}`);
    assert.ok(e.data && typeof e.data === 'object', `data in ${JSON.stringify(e)}`);
  }
  // The task's own lifecycle is announced in order.
  const mine = bus.events.filter((e) => e.data?.taskId === task.id).map((e) => e.type);
  const order = ['task.queued', 'task.started', 'task.completed'].map((type) => mine.indexOf(type));
  assert.ok(order.every((i) => i >= 0), `missing lifecycle events: ${JSON.stringify(mine)}`);
  assert.ok(order[0] < order[1] && order[1] < order[2], `lifecycle out of order: ${JSON.stringify(mine)}`);

  const got = await server.request('orchestrator/task/get', { taskId: task.id, waitMs: 5_000 });
  assert.equal(got?.task?.id, task.id);
  assert.equal(got.task.status, 'completed', `task/get: ${JSON.stringify(got)}`);
  assert.equal(got.task.result, 'done: write the release notes');

  const { code, signal } = await server.shutdownAndExit();
  assert.equal(signal, null, `server killed by ${signal}; stderr: ${server.stderr()}`);
  assert.equal(code, 0, `exit code; stderr: ${server.stderr()}`);
});

test('an unknown method is answered with -32601 and the connection keeps working', {
  timeout: TEST_TIMEOUT_MS,
}, async (t) => {
  const server = startServer();
  t.after(() => server.dispose());

  await server.initialize();

  for (const method of ['no/such/method', 'orchestrator/no/such/method']) {
    await assert.rejects(
      server.request(method, {}),
      (err) => {
        assert.ok(err instanceof ResponseError, `expected a JSON-RPC error reply, got ${err}`);
        assert.equal(err.code, ErrorCodes.MethodNotFound, `${method}: ${err.code} ${err.message}`);
        assert.equal(ErrorCodes.MethodNotFound, -32601);
        return true;
      },
      `${method} must be refused`,
    );
  }
  // An unknown notification gets no reply at all (a stray reply would upset the client).
  await within(server.connection.sendNotification('no/such/notification', {}), STEP_MS, 'notification');

  // Same connection, still serving.
  const stats = await server.request('orchestrator/stats', {});
  assert.ok(stats && typeof stats === 'object' && !Array.isArray(stats), `stats: ${JSON.stringify(stats)}`);
  const listed = await server.request('orchestrator/tools/list', {});
  assert.ok(Array.isArray(listed?.tools) && listed.tools.length >= TASK_TOOLS.length);

  const { code, signal } = await server.shutdownAndExit();
  assert.equal(signal, null, `server killed by ${signal}; stderr: ${server.stderr()}`);
  assert.equal(code, 0, `exit code; stderr: ${server.stderr()}`);
});
