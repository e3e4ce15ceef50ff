import MCP

/// The tools `tools/list` offers, with their JSON input schemas.
enum ToolCatalog {
  /// The read-only tools, and with `allowStop` also `free` and `kill`.
  static func tools(allowStop: Bool) -> [Tool] {
    let readOnly = Tool.Annotations(
      readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)
    var tools = [
      Tool(
        name: "who",
        description:
          "Every socket bound on the ports and all the processes holding each (pid, command, user, project, ancestry, manager). The document of `portctl who --json`.",
        inputSchema: schema(["ports": ports, "all": all, "protocol": proto], required: ["ports"]), annotations: readOnly
      ),
      Tool(
        name: "list",
        description:
          "All listening TCP and bound UDP sockets with their owners, optionally filtered. The document of `portctl list --json`.",
        inputSchema: schema([
          "all": all, "protocol": proto,
          "process": string("Only sockets held by a process whose name contains this (case-insensitive)."),
          "pid": integer("Only sockets this pid holds.", minimum: 1, maximum: Int(Int32.max)),
          "user": string("Only sockets of this user (name or uid)."),
        ]), annotations: readOnly),
      Tool(
        name: "why",
        description:
          "Who holds the ports, how each holder came to be (ancestry) and what manages it (systemd, docker, pm2, tmux…) with the right command to stop it. The document of `portctl why --json`.",
        inputSchema: schema(["ports": ports, "all": all, "protocol": proto], required: ["ports"]), annotations: readOnly
      ),
      Tool(
        name: "check",
        description:
          "Can a server bind the ports now? Answered with a real bind; if not, every reason as a stable code with its fix. The document of `portctl check --json`.",
        inputSchema: schema(["ports": ports], required: ["ports"]), annotations: readOnly),
      Tool(
        name: "find",
        description:
          "Free ports a server can bind right now (a real bind on 0.0.0.0 and [::]). The document of `portctl find --json`.",
        inputSchema: schema([
          "count": integer("How many ports (default 1).", minimum: 1, maximum: 1000),
          "from": integer("The first port to try (default 3000).", minimum: 1, maximum: 65535),
          "range": string("Search only A-B (inclusive), for example 8000-8100."),
          "protocol": proto,
          "host": string("Only this address, such as 127.0.0.1 (default: 0.0.0.0 and [::])."),
        ]), annotations: readOnly),
      Tool(
        name: "wait",
        description:
          "Wait until the ports are free (a real bind works) or until something listens on them, at most timeoutSeconds. The document of `portctl wait --json`.",
        inputSchema: schema(
          [
            "ports": ports,
            "until": .object([
              "type": "string", "enum": ["free", "listening"], "description": "What to wait for.",
            ]),
            "timeoutSeconds": .object([
              "type": "number", "minimum": 0, "maximum": .double(ToolCalls.maximumWait),
              "description": .string(
                "Give up after this many seconds (default 10, at most \(Int(ToolCalls.maximumWait))."),
            ]),
          ], required: ["ports", "until"]), annotations: readOnly),
      Tool(
        name: "explain",
        description:
          "Read a bind error printed by any program (EADDRINUSE, address already in use, EACCES, Windows 10048…) and say what holds the port now and how to fix it. The document of `portctl explain --json`.",
        inputSchema: schema(
          [
            "text": string("The error output."),
            "port": integer("The port, when the message does not say.", minimum: 1, maximum: 65535),
          ], required: ["text"]), annotations: readOnly),
    ]
    if allowStop {
      let stopping = Tool.Annotations(
        readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false)
      let planID = string(
        "The planId of a plan returned by a call without it: act only if the plan is still exactly that one.")
      tools.append(
        Tool(
          name: "free",
          description:
            "Free the ports: without planId, only plan (who would be signalled, which signal, what is protected) and return the plan's planId; with planId, plan again and, if the plan is unchanged, stop the listeners (graceful, then SIGKILL) and prove the ports free with a real bind. Never ends client connections, protected processes or this server's ancestors. The document of `portctl free --json`.",
          inputSchema: schema(["ports": ports, "protocol": proto, "planId": planID], required: ["ports"]),
          annotations: stopping))
      tools.append(
        Tool(
          name: "kill",
          description:
            "Signal the processes listening on the ports (graceful, then SIGKILL), without proving the ports free: without planId, only plan and return the planId; with planId, act only if the plan is unchanged. The document of `portctl kill --json`.",
          inputSchema: schema(["ports": ports, "protocol": proto, "planId": planID], required: ["ports"]),
          annotations: stopping))
    }
    return tools
  }

  private static let ports: Value = .object([
    "description": "Port specs: 3000, 3000-3010, 3000,8080, udp:53, 53/udp, 127.0.0.1:3000, [::1]:3000.",
    "oneOf": [
      .object(["type": "array", "items": .object(["type": ["string", "integer"]]), "minItems": 1]),
      .object(["type": "string"]),
      .object(["type": "integer", "minimum": 1, "maximum": 65535]),
    ],
  ])
  private static let all: Value = .object([
    "type": "boolean", "description": "Also connections and closing sockets (TIME_WAIT…), not only listeners.",
  ])
  private static let proto: Value = .object([
    "type": "string", "enum": ["tcp", "udp"], "description": "Only this protocol (default: both; find: tcp).",
  ])

  private static func string(_ description: String) -> Value {
    .object(["type": "string", "description": .string(description)])
  }

  private static func integer(_ description: String, minimum: Int, maximum: Int) -> Value {
    .object([
      "type": "integer", "minimum": .int(minimum), "maximum": .int(maximum), "description": .string(description),
    ])
  }

  private static func schema(_ properties: [String: Value], required: [String] = []) -> Value {
    .object([
      "type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
      "additionalProperties": false,
    ])
  }
}
