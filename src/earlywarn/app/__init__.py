"""The composition root: the only package that knows every stage.

It wires them together: the pipeline (ingest -> score -> forecast -> alert -> notify), the
scheduler, the API app factory, the command line, the table registry and the migrations. No
stage package imports it.
"""
