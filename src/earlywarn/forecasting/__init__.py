"""Forecasting: the probability of a mass-atrocity onset (scikit-learn, backtested).

Not built yet. It will read the same observations as scoring (the EWP outcome columns are
already imported as ``ewp.mk_onset*`` variables) and store versioned models under ``models/``.
"""
