"""Turning pyperf files into answers: comparisons, tables and plots.

The comparison (data), thread scaling, the rich/Markdown rendering and the PNG
plots.  Computing never renders; rendering never computes.
"""
