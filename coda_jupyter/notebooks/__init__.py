"""Notebook tools' back end: cells read, edited and run in the notebook's own kernel.

``service.NotebookService`` is built with the other services (``coda_jupyter.wiring``)
on Jupyter's contents, session and kernel managers.
"""
