

#: How long a write waits for its turn on the embedded database (s): for another process's write (SQLite's
#: busy timeout) and for this process's other writers (the queue in `api.db.engine`). Here, not in
#: `api.db.engine`, so that the settings (and every CLI command, `redline check` too) read it without
#: importing SQLAlchemy (~0.1 s).
DEFAULT_WRITE_WAIT_S = 30.0
