"""earlywarn: atrocity-risk early warning.

Data flows one way: ingest -> observations -> scoring -> forecasting -> alerting -> notify.
Each stage is a package that can be read alone.
"""

__version__ = "0.1.0"
