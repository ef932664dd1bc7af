"""Evaluations: each reads trained models and data and returns numbers and pictures."""
