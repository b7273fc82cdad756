"""The compiled read path: a planned query document answered by ONE SQL statement that builds the response JSON.

A part of its own beside `schema/`: `server` installs it (one extension), it reads the schema's shape and the
tables (through the resolvers' own orderings and argument rules), and nothing below imports it.
See docs/PERFORMANCE.md, "The compiled read path".
"""
