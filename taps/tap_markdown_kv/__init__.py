"""tap-markdown-kv: Markdown-KV documents from local folders or S3 into Singer streams."""
