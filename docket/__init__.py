"""Docket's small shared core: settings, ids, enums, contracts, CLI and the embedded dev stack.

Nothing in this package imports from `api`, `workflows`, `activities` or `db`.
"""
