"""The clinic dashboard: server-rendered pages for trial staff under /clinic (routers, templates, static files)."""
