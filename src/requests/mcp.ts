import { VERSION } from "../version.ts";
import { TOOLS } from "./tools.ts";

// The JSON-RPC half of the supervise MCP server (streamable HTTP transport,
// JSON responses only). Transport-free: the vhost feeds it parsed messages
// and turns the results into HTTP responses.

// Newest first. A client asking for one of these gets it back; anything
// else gets the newest (the client then decides whether it can go on).
export const SUPPORTED_PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;

export const RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
} as const;

export interface ToolResult {
  content: { type: "text"; text: string }[];
  isError: boolean;
}

export type CallTool = (name: string, args: unknown) => Promise<ToolResult>;

type Id = string | number | null;
export type RpcResponse = { jsonrpc: "2.0"; id: Id; result: unknown } | { jsonrpc: "2.0"; id: Id; error: { code: number; message: string } };

const INSTRUCTIONS =
  "This bottle's network goes through a gate that blocks hosts the operator did not allow. " +
  "When a request is blocked (HTTP 403 'blocked: ...'; over https the proxy refuses the CONNECT with 403, " +
  "which curl reports as 'CONNECT tunnel failed, response 403') and you truly need it, call request_egress; " +
  "for git push rules call request_git_rule; when you cannot go on, call report_stuck. " +
  "Each call waits for a human; an answer of 'no answer ... treat as denied' means denied.";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const err = (id: Id, code: number, message: string): RpcResponse => ({ jsonrpc: "2.0", id, error: { code, message } });

// Returns null for a notification or a client's response (nothing to send).
export async function handleMessage(msg: unknown, callTool: CallTool): Promise<RpcResponse | null> {
  if (!isObject(msg) || msg.jsonrpc !== "2.0") return err(null, RPC.invalidRequest, "not a JSON-RPC 2.0 message");
  const hasId = "id" in msg && (typeof msg.id === "string" || typeof msg.id === "number");
  if (!("method" in msg)) return null; // a response to us: we never ask, ignore
  if (typeof msg.method !== "string") return err(hasId ? (msg.id as Id) : null, RPC.invalidRequest, "method must be a string");
  if (!hasId) return null; // notifications/initialized, notifications/cancelled, ...
  const id = msg.id as string | number;
  const params = isObject(msg.params) ? msg.params : {};
  switch (msg.method) {
    case "initialize": {
      const asked = typeof params.protocolVersion === "string" ? params.protocolVersion : "";
      const protocolVersion = (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(asked) ? asked : SUPPORTED_PROTOCOL_VERSIONS[0];
      return {
        jsonrpc: "2.0",
        id,
        result: {
          protocolVersion,
          capabilities: { tools: { listChanged: false } },
          serverInfo: { name: "claude-bottle-supervise", version: VERSION },
          instructions: INSTRUCTIONS,
        },
      };
    }
    case "ping":
      return { jsonrpc: "2.0", id, result: {} };
    case "tools/list":
      return { jsonrpc: "2.0", id, result: { tools: TOOLS } };
    case "tools/call": {
      if (typeof params.name !== "string") return err(id, RPC.invalidParams, "tools/call needs params.name");
      if (!TOOLS.some((t) => t.name === params.name)) return err(id, RPC.invalidParams, `unknown tool '${params.name}'`);
      return { jsonrpc: "2.0", id, result: await callTool(params.name, params.arguments) };
    }
    default:
      return err(id, RPC.methodNotFound, `method not found: ${msg.method}`);
  }
}
