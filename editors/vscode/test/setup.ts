// Loaded with `node --require` before every test file (package.json `test`): makes
// `require("vscode")`, from the extension's code, from dist/extension.js and from inside
// vscode-languageclient, load the fake in test/vscode-stub.ts.

import Module from "node:module";
import path from "node:path";

const stubFile = path.join(__dirname, "vscode-stub.js");

type Resolve = (request: string, ...rest: unknown[]) => string;
const mod = Module as unknown as { _resolveFilename: Resolve };
const original = mod._resolveFilename;

mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
  if (request === "vscode") return stubFile;
  return original.call(this, request, ...rest);
};
