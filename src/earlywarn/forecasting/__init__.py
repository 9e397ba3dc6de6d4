"""Forecasting: the probability of a mass-killing onset (scikit-learn, backtested).

``panel`` builds point-in-time country-year panels (from an EWP-format file or from stored
``ewp.*`` observations); ``estimators`` holds the models; ``backtest`` runs the Early Warning
Project's walk-forward protocol; ``registry`` keeps trained models with their model cards under
``models/``; ``service`` stores each scoring run's forecasts with their drivers.
"""
