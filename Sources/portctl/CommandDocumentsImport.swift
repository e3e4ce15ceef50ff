// The JSON documents (docs/json.md) live in CommandDocuments, shared with portctl-mcp; every
// file of this executable sees them through this one import.
@_exported import CommandDocuments
