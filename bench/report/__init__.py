"""Turning pyperf files into answers: the comparison (data), thread scaling, the
rich/Markdown rendering and the PNG plots.  Computing never renders; rendering
never computes.
"""
