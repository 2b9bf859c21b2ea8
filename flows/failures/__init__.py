"""The failure inbox: failed runs grouped by flow, step and error signature, and what an admin
does to a whole group at once (retry all, fix and resume all, dismiss)."""
