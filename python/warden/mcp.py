"""``python -m warden.mcp``: warden's MCP server on stdio (warden.mcp_server)."""

from warden.mcp_server import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
