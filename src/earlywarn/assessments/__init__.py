"""Analyst assessments: judgements of a risk factor in a country, approved by a second person
before they count in scores."""
