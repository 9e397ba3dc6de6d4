"""The web interface: server-rendered pages for analysts, focal points and administrators.

It reads through the services and repositories of every stage below it and adds no query or
rule of its own; ``install`` is all the app factory calls.
"""
